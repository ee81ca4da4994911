#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs the real
# components the tests use, then formatting, lints, every test and a bounded
# run of every fuzz target. CI (.ci/run) calls exactly this.
#
#   FUZZ_SECONDS=N   time per fuzz target (default 30: eight targets, inside the 30-minute CI budget; 0 skips fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# Real components, not mocks: fail2ban's own filter files and test logs,
# nftables and network namespaces for bans, procps/iproute2 for evidence
# collection, tzdata for operator time zones (Asia/Tokyo), ripgrep as the
# benchmark floor, openssh for the namespace test fleet (mosh for a mosh session left open), nginx for probes and triggers
# (curl and openssl: https and Prometheus probes asked from a fleet host),
# systemd-journal-remote to write real journal files for journal sources;
# mariadb-server for real slow logs and percona-toolkit (pt-query-digest) to check digests against.
packages=(fail2ban nftables iptables iproute2 procps ripgrep util-linux tzdata openssh-server openssh-client mosh nginx curl openssl systemd-journal-remote mariadb-server percona-toolkit)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
test_log=$(mktemp)
trap 'rm -f "$test_log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$test_log"
summary=$(awk '/^test result:/ {p += $4; f += $6} END {printf "%d passed, %d failed", p, f}' "$test_log")

fuzz_seconds="${FUZZ_SECONDS:-30}"
if [ "$fuzz_seconds" != 0 ]; then
  step "fuzzing each target for ${fuzz_seconds}s"
  command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
  # cargo-fuzz needs nightly-only sanitizer flags; the machine has one stable
  # toolchain, and RUSTC_BOOTSTRAP unlocks those flags on it.
  export RUSTC_BOOTSTRAP=1
  for target in $(cd fuzz && cargo fuzz list); do
    fuzz_log=$(mktemp)
    if (cd fuzz && cargo fuzz run "$target" -- -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 > "$fuzz_log" 2>&1); then
      echo "$target: $(grep -E '^Done [0-9]+ runs' "$fuzz_log" || echo 'done')"
      rm -f "$fuzz_log"
    else
      tail -n 60 "$fuzz_log"
      echo "fuzz target $target failed; reproduce with: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $target" >&2
      exit 1
    fi
  done
fi

step "all checks passed"
echo "tests: $summary"
