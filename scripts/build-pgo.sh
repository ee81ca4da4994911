#!/usr/bin/env bash
# Builds the production binary with profile-guided optimisation: the `dist`
# profile instrumented, run on a training workload, then rebuilt with the
# branch and call counts it recorded (LLVM PGO). Prints the binary's path
# on stdout; everything else goes to stderr.
#
# The training never sees the benchmark's input: its logs come from the
# same generator with another seed and a fifth of the lines, and, when
# fail2ban is installed, every Debian filter runs against its own test log.
# Two full builds: about seven minutes on two cores.
#
# Needs: rustup's llvm-tools component (added when missing) or an
# llvm-profdata matching rustc's LLVM on PATH, and python3.
# Usage: scripts/build-pgo.sh          (work files under target/pgo, or PGO_DIR)
#        cp "$(scripts/build-pgo.sh)" ~/.cargo/bin/tejun
set -euo pipefail
DIR=$(realpath -m "${PGO_DIR:-$(dirname "$0")/../target/pgo}")
cd "$(dirname "$0")/.."

HOST=$(rustc -vV | sed -n 's/^host: //p')
PROFDATA="$(rustc --print sysroot)/lib/rustlib/$HOST/bin/llvm-profdata"
if [ ! -x "$PROFDATA" ] && command -v rustup >/dev/null; then
  rustup component add llvm-tools >&2 || true
fi
if [ ! -x "$PROFDATA" ]; then
  PROFDATA=$(command -v llvm-profdata) || {
    echo "build-pgo: no llvm-profdata: run 'rustup component add llvm-tools'" >&2
    exit 2
  }
fi

# CARGO_ENCODED_RUSTFLAGS (fields split by 0x1f) keeps a path with spaces
# whole, where RUSTFLAGS would split it.
build() {
  CARGO_ENCODED_RUSTFLAGS="$1" \
    cargo build --profile dist -p tejun-cli --target-dir "$2" >&2
}

mkdir -p "$DIR/train"
build "-Cprofile-generate=$DIR/raw" "$DIR/generate"
# Build scripts ran instrumented too: only the training's counts are kept.
rm -rf "$DIR/raw"

[ -s "$DIR/train/access.log" ] || python3 bench/detect/gen_logs.py "$DIR/train" 200000 1
TRAINEE="$DIR/generate/dist/tejun"
SSHD=/etc/fail2ban/filter.d/sshd.conf
TESTS=/usr/lib/python3/dist-packages/fail2ban/tests/files/logs
train() {
  if [ -f "$SSHD" ]; then
    "$TRAINEE" scan "$DIR/train/auth.log" --fail2ban-filter "$SSHD"
    "$TRAINEE" scan "$DIR/train/auth.log" --fail2ban-filter "$SSHD" --json
  fi
  "$TRAINEE" scan "$DIR/train/auth.log" --builtin sshd
  "$TRAINEE" scan "$DIR/train/access.log" --builtin web-attacks
  for filter in /etc/fail2ban/filter.d/*.conf; do
    log="$TESTS/$(basename "$filter" .conf)"
    # Some filters need a jail's variables: a refusal trains too.
    if [ -f "$log" ]; then "$TRAINEE" scan "$log" --fail2ban-filter "$filter" || true; fi
  done
}
# The reports are not needed; the errors are kept.
train >/dev/null 2>"$DIR/train.log" || {
  echo "build-pgo: training failed; see $DIR/train.log" >&2
  exit 1
}
"$PROFDATA" merge -o "$DIR/tejun.profdata" "$DIR/raw" >&2

build "-Cprofile-use=$DIR/tejun.profdata" "$DIR/use"
echo "$DIR/use/dist/tejun"
