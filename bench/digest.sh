#!/usr/bin/env bash
# Slow-query digest benchmark: tejun digest vs pt-query-digest (the tool it
# replaces) on generated MySQL slow logs, and a check that both make the
# same fingerprints with the same counts and the same top 10.
# The logs come from bench/gen-slowlog.py (60 statement shapes, random
# literals, MySQL 8 and MariaDB headers mixed; seed 1).
# Needs: apt-get install -y percona-toolkit python3 time
# Usage: bench/digest.sh [SIZE...]   (default: 100M 1G; results in
# bench/digest/results.md, which it rewrites)
#   RUNS=N     tejun runs per size (median; default 3)
#   PT_RUNS=N  pt-query-digest runs per size (median; default 1: 1 GB takes it ~20 min)
#   TEJUN=PATH bench an existing binary instead of building --release
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=(${@:-100M 1G})
WORK=${BENCH_DIR:-$(mktemp -d /tmp/tejun-digest-bench.XXXXXX)}
OUT=${OUT:-bench/digest/results.md}
RUNS=${RUNS:-3}
PT_RUNS=${PT_RUNS:-1}
for tool in pt-query-digest python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y percona-toolkit python3 time" >&2; exit 2; }
done
if [ -z "${TEJUN:-}" ]; then
  CARGO_INCREMENTAL=0 cargo build --release -p tejun-cli >&2
  TEJUN=target/release/tejun
fi

# timed RUNS CMD... : median wall seconds, largest peak RSS (MB) and median
# user+system CPU seconds of RUNS runs.
timed() {
  local runs=$1; shift
  local walls=() cpus=() rss=0 log="$WORK/time.$$"
  for _ in $(seq "$runs"); do
    /usr/bin/time -v -o "$log" "$@" >"$WORK/out.$$" 2>"$WORK/err.$$"
    walls+=("$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$log")")
    cpus+=("$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u+s}' "$log")")
    rss=$(awk -F': ' -v m="$rss" '/Maximum resident set size/ {r=$2/1024; printf "%.1f", (r>m ? r : m)}' "$log")
  done
  local median='{a[NR]=$1} END {print a[int((NR+1)/2)]}'
  echo "$(printf '%s\n' "${walls[@]}" | sort -g | awk "$median") $rss $(printf '%s\n' "${cpus[@]}" | sort -g | awk "$median")"
}

{
  echo "# Slow-query digest benchmark ($(nproc) cores, $(date -u +%F))"
  echo
  echo "tejun: $TEJUN ($RUNS runs, median); pt-query-digest $(pt-query-digest --version | awk '{print $2}') ($PT_RUNS run(s), median)."
  echo "Both read the same file and print their default report; pt-query-digest with --preserve-embedded-numbers (tejun's default fingerprint)."
  echo
  echo "| log | entries | tejun s | tejun CPU s | tejun MB/s | tejun peak RSS MB | tejun --threads 1 s | pt-query-digest s | pt peak RSS MB | speed-up | fingerprints |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  for size in "${SIZES[@]}"; do
    log="$WORK/slow-$size.log"
    [ -s "$log" ] || python3 bench/gen-slowlog.py "$size" 1 > "$log"
    bytes=$(stat -c %s "$log")
    entries=$(grep -c '^# Query_time' "$log")
    read -r t_wall t_rss t_cpu < <(timed "$RUNS" "$TEJUN" digest "$log")
    read -r o_wall _ _ < <(timed "$RUNS" "$TEJUN" digest --threads 1 "$log")
    read -r p_wall p_rss _ < <(timed "$PT_RUNS" pt-query-digest --preserve-embedded-numbers --no-version-check --output json --limit 100%:1000000 "$log")
    cp "$WORK/out.$$" "$WORK/pt-$size.json"
    "$TEJUN" digest "$log" --json --top 1000000 > "$WORK/tejun-$size.json"
    same=$(python3 - "$WORK/pt-$size.json" "$WORK/tejun-$size.json" <<'PY'
import json, sys
pt = json.load(open(sys.argv[1]))["classes"]
tj = json.load(open(sys.argv[2]))["classes"]
def fix(s):
    try:
        return s.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return s
p = {fix(c["fingerprint"]): c["query_count"] for c in pt if c["fingerprint"]}
t = {c["fingerprint"]: c["count"] for c in tj}
top = [fix(c["fingerprint"]) for c in pt if c["fingerprint"]][:10] == [c["fingerprint"] for c in tj][:10]
print(f"{len(t)} same, same counts, same top 10" if p == t and top else f"DIFFER ({len(p)} vs {len(t)}, top 10 same: {top})")
PY
)
    awk -v size="$size" -v bytes="$bytes" -v entries="$entries" -v tw="$t_wall" -v tr="$t_rss" \
        -v tc="$t_cpu" -v ow="$o_wall" -v pw="$p_wall" -v pr="$p_rss" -v same="$same" 'BEGIN {
      printf "| %s (%.0f MB) | %d | %.2f | %.2f | %.0f | %s | %.2f | %.1f | %s | **%.1f×** | %s |\n",
        size, bytes / 1048576, entries, tw, tc, bytes / 1048576 / tw, tr, ow, pw, pr, pw / tw, same }'
  done
  echo
  echo "Reproduce: bench/digest.sh ${SIZES[*]}"
} | tee "$OUT"
