#!/usr/bin/env bash
# Interleaved A/B for log scanning: fail2ban-regex, an older tejun and a
# newer one run in turn, RUNS times, on the same 1M-line auth.log with the
# Debian sshd filter. Alternating keeps a noisy machine's drift out of the
# ratios, which is what bench/detect.sh's row-by-row medians cannot do.
# Needs: apt-get install -y fail2ban time python3
# Usage: bench/detect-ab.sh OLD_TEJUN NEW_TEJUN   (RUNS=3, BENCH_DIR=dir with auth.log)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: $0 OLD_TEJUN NEW_TEJUN" >&2; exit 2; }
OLD=$1 NEW=$2
RUNS=${RUNS:-3}
WORK=${BENCH_DIR:-$(mktemp -d /tmp/tejun-bench.XXXXXX)}
[ -s "$WORK/auth.log" ] || python3 bench/detect/gen_logs.py "$WORK" 1000000
LOG="$WORK/auth.log"
SSHD=/etc/fail2ban/filter.d/sshd.conf
LINES=$(wc -l < "$LOG")

# wall CMD...: seconds of wall time (output discarded).
wall() {
  /usr/bin/time -f %e -o "$WORK/wall.$$" "$@" >/dev/null 2>&1 || true
  cat "$WORK/wall.$$"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: > "$WORK/ab.$$"
for _ in $(seq "$RUNS"); do
  echo "fail2ban $(wall fail2ban-regex "$LOG" "$SSHD")" >> "$WORK/ab.$$"
  echo "old $(wall "$OLD" scan "$LOG" --fail2ban-filter "$SSHD")" >> "$WORK/ab.$$"
  echo "new $(wall "$NEW" scan "$LOG" --fail2ban-filter "$SSHD")" >> "$WORK/ab.$$"
done
peer=$(awk '$1=="fail2ban" {print $2}' "$WORK/ab.$$" | median)
# Per round: fail2ban-regex's wall over this scanner's, from runs a minute
# apart. On a machine whose speed drifts by half within minutes, the
# median of these paired ratios is steadier than a ratio of medians.
paired() {
  awk -v k="$1" '$1=="fail2ban" {f=$2} $1==k {print f / $2}' "$WORK/ab.$$" | median
}
echo "| run | median wall s | lines/s | vs fail2ban-regex (medians) | vs fail2ban-regex (median of rounds) |"
echo "| --- | ---: | ---: | ---: | ---: |"
for who in fail2ban old new; do
  w=$(awk -v k="$who" '$1==k {print $2}' "$WORK/ab.$$" | median)
  r=$(paired "$who")
  awk -v n="$who" -v w="$w" -v l="$LINES" -v p="$peer" -v r="$r" \
    'BEGIN { printf "| %s | %.2f | %.0f | %.1f× | %.1f× |\n", n, w, l / w, p / w, r }'
done
