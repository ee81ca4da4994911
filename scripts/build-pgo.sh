#!/usr/bin/env bash
# Builds the production binary with profile-guided optimisation: the `dist`
# profile instrumented, run on a training workload, then rebuilt with the
# branch and call counts it recorded (LLVM PGO). Prints the binary's path.
#
# The training never sees the benchmark's input: its logs come from the
# same generator with another seed and a fifth of the lines, and every
# Debian fail2ban filter runs against its own test log when fail2ban is
# installed. Two full builds: about eight minutes on two cores.
#
# Needs: rustup (for the llvm-tools component, added when missing), python3.
# Usage: scripts/build-pgo.sh          (work files under target/pgo, or PGO_DIR)
#        cp "$(scripts/build-pgo.sh)" /usr/local/bin/tejun
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${PGO_DIR:-$PWD/target/pgo}
HOST=$(rustc -vV | sed -n 's/^host: //p')
PROFDATA="$(rustc --print sysroot)/lib/rustlib/$HOST/bin/llvm-profdata"
[ -x "$PROFDATA" ] || rustup component add llvm-tools >&2

mkdir -p "$DIR/train"
RUSTFLAGS="-Cprofile-generate=$DIR/raw" \
  cargo build --profile dist -p tejun-cli --target-dir "$DIR/generate" >&2
# Build scripts ran instrumented too: only the training's counts are kept.
rm -rf "$DIR/raw"

[ -s "$DIR/train/auth.log" ] || python3 bench/detect/gen_logs.py "$DIR/train" 200000 1
TRAINEE="$DIR/generate/dist/tejun"
SSHD=/etc/fail2ban/filter.d/sshd.conf
{
  if [ -f "$SSHD" ]; then
    "$TRAINEE" scan "$DIR/train/auth.log" --fail2ban-filter "$SSHD"
    "$TRAINEE" scan "$DIR/train/auth.log" --fail2ban-filter "$SSHD" --json
  fi
  "$TRAINEE" scan "$DIR/train/auth.log" --builtin sshd
  "$TRAINEE" scan "$DIR/train/access.log" --builtin web-attacks
  TESTS=/usr/lib/python3/dist-packages/fail2ban/tests/files/logs
  for filter in /etc/fail2ban/filter.d/*.conf; do
    log="$TESTS/$(basename "$filter" .conf)"
    if [ -f "$log" ]; then "$TRAINEE" scan "$log" --fail2ban-filter "$filter" || true; fi
  done
} >/dev/null 2>&1
"$PROFDATA" merge -o "$DIR/tejun.profdata" "$DIR/raw"

RUSTFLAGS="-Cprofile-use=$DIR/tejun.profdata" \
  cargo build --profile dist -p tejun-cli --target-dir "$DIR/use" >&2
echo "$DIR/use/dist/tejun"
