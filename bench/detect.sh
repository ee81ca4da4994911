#!/usr/bin/env bash
# Detection benchmark: tejun scan vs fail2ban-regex vs ripgrep (floor).
# Needs: apt-get install -y fail2ban ripgrep time python3
# Usage: bench/detect.sh [LINES]   (default 1000000; results in bench/detect/results.md,
# which it rewrites: move a table worth keeping to bench/detect/history.md)
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-1000000}
WORK=${BENCH_DIR:-$(mktemp -d /tmp/tejun-bench.XXXXXX)}
OUT=${OUT:-bench/detect/results.md}
for tool in fail2ban-regex rg /usr/bin/time python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y fail2ban ripgrep time python3" >&2; exit 2; }
done
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
# TEJUN=/path/to/tejun skips the build (e.g. to bench an existing binary);
# PGO=1 benches the profile-guided build (scripts/build-pgo.sh).
if [ -z "${TEJUN:-}" ] && [ "${PGO:-0}" = 1 ]; then
  TEJUN=$(scripts/build-pgo.sh)
elif [ -z "${TEJUN:-}" ]; then
  # The profile installs use (Cargo.toml: profile.dist).
  cargo build --profile dist -p tejun-cli >&2
  TEJUN="$CARGO_TARGET_DIR/dist/tejun"
fi
[ -s "$WORK/auth.log" ] || python3 bench/detect/gen_logs.py "$WORK" "$LINES"
SSHD=/etc/fail2ban/filter.d/sshd.conf

# run NAME LINES CMD... : runs CMD $RUNS times (default 3) and prints a table row
# with the median wall time, lines/s at that median, and the largest peak RSS.
RUNS=${RUNS:-3}
run() {
  local name=$1 lines=$2; shift 2
  local log="$WORK/time.$$" walls=() rss=0 cpu=""
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -v -o "$log" "$@" >/dev/null 2>"$WORK/stderr.$$" || true
    walls+=("$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$log")")
    rss=$(awk -F': ' -v m="$rss" '/Maximum resident set size/ {r=$2/1024; printf "%.1f", (r>m ? r : m)}' "$log")
    cpu=$(awk -F': ' '/Percent of CPU/ {print $2}' "$log")
  done
  local wall; wall=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '| %s | %s | %.2f | %s | %s | %s |\n' "$name" "$lines" "$wall" \
    "$(awk -v l="$lines" -v w="$wall" 'BEGIN{ if (w>0) printf "%.0f", l/w; else print "inf" }')" "$rss" "$cpu"
}

{
  echo "# Detection benchmark ($(nproc) cores, $(date -u +%F))"
  echo
  echo "Median of $RUNS runs per row; peak RSS is the largest seen, CPU the last run's."
  echo "tejun: $TEJUN"
  echo
  echo "| run | lines | median wall s | lines/s | peak RSS MB | CPU |"
  echo "|---|---:|---:|---:|---:|---:|"
  run "tejun scan, Debian sshd filter" "$LINES" "$TEJUN" scan "$WORK/auth.log" --fail2ban-filter "$SSHD"
  run "tejun scan --json, Debian sshd filter" "$LINES" "$TEJUN" scan "$WORK/auth.log" --fail2ban-filter "$SSHD" --json
  run "tejun scan, built-in sshd rules" "$LINES" "$TEJUN" scan "$WORK/auth.log" --builtin sshd
  run "rg -c (floor, counting only)" "$LINES" rg -c 'sshd\[\d+\]: (Failed \S+ for|Invalid user|pam_unix\(sshd:auth\): authentication failure)' "$WORK/auth.log"
  run "tejun scan, web-attacks on access.log" "$LINES" "$TEJUN" scan "$WORK/access.log" --builtin web-attacks
  if [ "${SKIP_FAIL2BAN:-0}" != 1 ]; then
    run "fail2ban-regex, Debian sshd filter" "$LINES" fail2ban-regex "$WORK/auth.log" "$SSHD"
  fi
} | tee "$OUT"
echo "inputs in $WORK" >&2
