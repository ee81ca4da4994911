#!/usr/bin/env bash
# Append → action latency of `tejun watch`, with the journal enabled.
#
# One line at a time is appended to a followed log (fail2ban's sshd filter,
# maxretry 1, every line a new offender), and the time is taken until
# `tejun watch --json` reports the action done: `triggered` is printed after
# detect.triggered is durable in the journal, `banned` after ban.added is.
# The ban backend is `none`, so what is measured is tejun (inotify wake-up,
# read, match, count, two durable journal appends, checkpoint), not nft.
#
# Usage: bench/watch.sh [LINES]   (default 200; TEJUN=path/to/tejun to skip the build)
# Needs: python3, Debian's fail2ban package (for /etc/fail2ban/filter.d/sshd.conf).
set -euo pipefail
cd "$(dirname "$0")/.."
LINES="${1:-200}"
FILTER=/etc/fail2ban/filter.d/sshd.conf
[ -f "$FILTER" ] || { echo "missing $FILTER: apt-get install -y fail2ban" >&2; exit 2; }
if [ -z "${TEJUN:-}" ]; then
  cargo build --release -q -p tejun-cli
  TEJUN="${CARGO_TARGET_DIR:-target}/release/tejun"
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
printf '[sshd]\nmaxretry = 1\nfindtime = 600\nbantime = 3600\n' > "$WORK/jail.local"
cat > "$WORK/watch.yaml" <<YAML
date_zone: UTC
ban: {backend: none}
sources:
  - name: auth
    paths: [auth.log]
    fail2ban: {filter: $FILTER, jail: jail.local}
YAML
: > "$WORK/auth.log"

python3 - "$TEJUN" "$WORK" "$LINES" <<'PY'
import json, os, select, statistics, subprocess, sys, time
tejun, work, lines = sys.argv[1], sys.argv[2], int(sys.argv[3])
proc = subprocess.Popen(
    [tejun, "--db", f"{work}/journal.db", "watch", "--json", "--config", f"{work}/watch.yaml"],
    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
fd = proc.stdout.fileno()
pending = b""

def next_event(deadline):
    # Raw reads: a buffered reader could hold a line select() no longer sees.
    global pending
    while b"\n" not in pending:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SystemExit("timed out waiting for tejun watch")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise SystemExit("tejun watch exited")
            pending += chunk
    line, pending = pending.split(b"\n", 1)
    return json.loads(line)

try:
    deadline = time.monotonic() + 30
    while next_event(deadline).get("event") != "started":
        pass
    triggered, banned = [], []
    with open(f"{work}/auth.log", "a") as log:
        for i in range(lines):
            ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
            stamp = time.strftime("%b %e %H:%M:%S", time.gmtime())
            text = f"{stamp} web1 sshd[4242]: Failed password for root from {ip} port 50022 ssh2\n"
            t0 = time.monotonic()
            log.write(text)
            log.flush()
            deadline = t0 + 5
            got_t = None
            while True:
                ev = next_event(deadline)
                if ev.get("offender") != ip:
                    continue
                if ev["event"] == "triggered":
                    got_t = time.monotonic() - t0
                elif ev["event"] == "banned":
                    triggered.append(got_t)
                    banned.append(time.monotonic() - t0)
                    break
            time.sleep(0.02)  # idle between lines: measure reaction, not throughput
finally:
    proc.terminate()
    proc.wait(timeout=10)

def report(name, xs):
    xs = sorted(x * 1000 for x in xs)
    p99 = xs[min(len(xs) - 1, int(round(0.99 * (len(xs) - 1))))]
    print(f"{name:<28} median {statistics.median(xs):7.2f} ms   p99 {p99:7.2f} ms   max {xs[-1]:7.2f} ms")

print(f"tejun watch, {len(banned)} appended lines, journal enabled (SQLite, synchronous=FULL)")
report("append → detect.triggered", triggered)
report("append → ban.added", banned)
PY
