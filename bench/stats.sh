#!/usr/bin/env bash
# Access-log statistics benchmark: tejun stats vs GoAccess vs ripgrep (floor).
# Needs: apt-get install -y goaccess ripgrep time python3
# Usage: bench/stats.sh [LINES...]   (default "1000000 10000000"; results in
# bench/stats/results.md, which it rewrites)
#   RUNS=N (default 3) runs per row, median reported; TEJUN=/path skips the build;
#   SKIP_GOACCESS=1 leaves GoAccess out; BENCH_DIR keeps generated logs between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("${@:-1000000 10000000}")
read -r -a SIZES <<<"${SIZES[*]}"
WORK=${BENCH_DIR:-$(mktemp -d /tmp/tejun-stats-bench.XXXXXX)}
OUT=${OUT:-bench/stats/results.md}
for tool in rg /usr/bin/time python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y goaccess ripgrep time python3" >&2; exit 2; }
done
if [ "${SKIP_GOACCESS:-0}" != 1 ] && ! command -v goaccess >/dev/null; then
  echo "missing goaccess: apt-get install -y goaccess (or SKIP_GOACCESS=1)" >&2; exit 2
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "${TEJUN:-}" ]; then
  # The profile installs use (Cargo.toml: profile.dist).
  cargo build --profile dist -p tejun-cli >&2
  TEJUN="$CARGO_TARGET_DIR/dist/tejun"
fi

RUNS=${RUNS:-3}
# run NAME LINES CMD... : median wall time of $RUNS runs, lines/s at it,
# user+sys CPU seconds (lines per CPU-second = per core), largest peak RSS.
run() {
  local name=$1 lines=$2; shift 2
  local log="$WORK/time.$$" walls=() cpus=() rss=0
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -v -o "$log" "$@" >/dev/null 2>"$WORK/stderr.$$" || { echo "failed: $*" >&2; cat "$WORK/stderr.$$" >&2; }
    walls+=("$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$log")")
    cpus+=("$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u+s}' "$log")")
    rss=$(awk -F': ' -v m="$rss" '/Maximum resident set size/ {r=$2/1024; printf "%.1f", (r>m ? r : m)}' "$log")
  done
  local wall cpu
  wall=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  cpu=$(printf '%s\n' "${cpus[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '| %s | %s | %.2f | %s | %.2f | %s | %s |\n' "$name" "$lines" "$wall" \
    "$(awk -v l="$lines" -v w="$wall" 'BEGIN{ if (w>0) printf "%.0f", l/w; else print "inf" }')" "$cpu" \
    "$(awk -v l="$lines" -v c="$cpu" 'BEGIN{ if (c>0) printf "%.0f", l/c; else print "inf" }')" "$rss"
}

{
  echo "# Access-log statistics benchmark ($(nproc) cores, $(date -u +%F))"
  echo
  echo "Median of $RUNS runs per row; peak RSS is the largest seen. lines/CPU-s is lines per"
  echo "second of user+system time, i.e. per core. tejun: $TEJUN"
  echo "Logs: bench/stats/gen_access_log.py (nginx combined; \"timed\" adds rt=\$request_time urt=\$upstream_response_time)."
  echo
  echo "| run | lines | median wall s | lines/s | CPU s | lines/CPU-s | peak RSS MB |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for n in "${SIZES[@]}"; do
    [ -s "$WORK/combined.$n.log" ] || python3 bench/stats/gen_access_log.py --lines "$n" --rps 300 > "$WORK/combined.$n.log"
    [ -s "$WORK/timed.$n.log" ] || python3 bench/stats/gen_access_log.py --lines "$n" --rps 300 --timed > "$WORK/timed.$n.log"
    run "tejun stats --threads 1, combined" "$n" "$TEJUN" stats --threads 1 "$WORK/combined.$n.log"
    run "tejun stats, combined" "$n" "$TEJUN" stats "$WORK/combined.$n.log"
    run "tejun stats --json, combined" "$n" "$TEJUN" stats --json "$WORK/combined.$n.log"
    run "tejun stats, timed log_format (latency percentiles)" "$n" "$TEJUN" stats --nginx-format @examples/nginx-log-format.conf "$WORK/timed.$n.log"
    run "rg -c (floor, counting only)" "$n" rg -c '" 5[0-9][0-9] ' "$WORK/combined.$n.log"
    if [ "${SKIP_GOACCESS:-0}" != 1 ]; then
      run "goaccess --log-format=COMBINED -o report.json" "$n" goaccess --log-format=COMBINED --no-progress -o "$WORK/report.json" "$WORK/combined.$n.log"
    fi
  done
} | tee "$OUT"
echo "reproduce: bench/stats.sh ${SIZES[*]}" >> "$OUT"
