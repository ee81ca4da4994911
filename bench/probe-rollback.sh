#!/usr/bin/env bash
# Case 5's automatic rollback time, on a real nginx on 127.0.0.1 (issue #20):
# a runbook swaps the site for one that answers 503 and reloads; the trigger
# `error_rate(health) > 5% over 1m` (1 s probe interval) fires, the rollback
# restores the site and reloads, and its `wait_for` gate sees it healthy.
# Reported: seconds from the bad reload (end of the `change` step) to the
# first healthy answer after the rollback, read from the journal.
#
#   RUNS=N          repetitions (default 5)
#   WARM=1          first fill the trigger's window with a minute of healthy
#                   samples (then 5% of ~60 samples needs 4 failures)
#   TEJUN=path      the binary (default target/release/tejun, else debug)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
TEJUN=${TEJUN:-}
if [ -z "$TEJUN" ]; then
  if [ -x target/release/tejun ]; then TEJUN=$PWD/target/release/tejun; else TEJUN=$PWD/target/debug/tejun; fi
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
work=$(mktemp -d)
nginx_pid=
cleanup() { [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/nginx/logs" "$work/nginx/tmp"
good='location /health { return 200 "ok\n"; }'
bad='location /health { return 503 "down\n"; }'
echo "$good" > "$work/nginx/site.conf"
echo "$bad" > "$work/bad.conf"
d=$work/nginx
cat > "$d/nginx.conf" <<CONF
worker_processes 1;
error_log $d/logs/error.log;
pid $d/nginx.pid;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $d/tmp; proxy_temp_path $d/tmp; fastcgi_temp_path $d/tmp;
  uwsgi_temp_path $d/tmp; scgi_temp_path $d/tmp;
  server { listen 127.0.0.1:$port; include $d/site.conf; }
}
CONF
"$NGINX" -p "$d/" -c "$d/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
reload="$NGINX -p $d/ -c $d/nginx.conf -s reload"

printf 'environments:\n  dev:\n    color: green\n' > "$work/tejun.yaml"
cat > "$work/book.yaml" <<BOOK
name: case 5 nginx change
env: dev
probes:
  health:
    http: {url: "http://127.0.0.1:$port/health", status: 200, body: "^ok"}
    timeout: 1s
    interval: 1s
triggers:
  - error_rate(health) > 5% over 1m
pre:
  - id: healthy-before
    wait_for: {probe: health, timeout: 10s, interval: 1s}
  - id: keep
    backup: $d/site.conf
execute:
$( [ "${WARM:-0}" = 1 ] && printf '  - id: warm\n    run: sleep 60\n' )
  - id: change
    run: cp $work/bad.conf $d/site.conf && $reload
post:
  - id: bake
    run: sleep 120
rollback:
  steps:
    - id: put-back
      restore: keep
    - id: reload
      run: $reload
  checks:
    - id: healthy-again
      wait_for: {probe: health, timeout: 60s, interval: 1s}
BOOK

echo "binary: $TEJUN; nginx $("$NGINX" -v 2>&1 | sed 's/.*\///'); load $(cut -d' ' -f1 /proc/loadavg)"
for i in $(seq "$RUNS"); do
  (cd "$work" && TEJUN_DB="$work/journal.db" "$TEJUN" run book.yaml --env dev --yes >/dev/null 2>&1) || [ $? = 3 ]
  id=$(cd "$work" && TEJUN_DB="$work/journal.db" "$TEJUN" runs --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
  (cd "$work" && TEJUN_DB="$work/journal.db" "$TEJUN" show "$id" --json) | python3 -c '
import json, sys
from datetime import datetime
t = json.load(sys.stdin)
ts = lambda e: datetime.fromisoformat(e["ts"].replace("Z", "+00:00"))
ev = t["events"]
bad = next(ts(e) for e in ev if e["kind"] == "step.finished" and e["payload"]["step_id"] == "change")
fired = next(ts(e) for e in ev if e["kind"] == "trigger.fired")
ok = next(ts(e) for e in ev if e["kind"] == "probe.result" and e["payload"]["step_id"] == "healthy-again" and e["payload"]["ok"])
print(f"run {sys.argv[1]}: trigger fired after {(fired-bad).total_seconds():.2f} s; healthy again after {(ok-bad).total_seconds():.2f} s")
' "$i"
  echo "$good" > "$d/site.conf"; $reload 2>/dev/null; sleep 1
done
