#!/usr/bin/env bash
# Fleet benchmark: one command (`true`) on N namespace hosts (default 10):
#   tejun run (a runbook with `hosts: web`, one step; includes connecting),
#   ansible -m command -a true -f N (ansible-core from PyPI, in a venv here),
#   xargs -P N ssh HOST true (the parallel-ssh floor, fresh connections).
# Prints medians of RUNS runs (default 5) and the ratios; records nothing
# by itself (copy the table into BENCHMARKS.md).
# Every contender logs in as one dedicated user with a plain home
# (FLEET_USER, default tejun-bench; made by fleet-up, removed at the end):
# the namespace hosts share this machine's file system, so root's own
# shell init would run at every login and weigh on every column.
# Per step on a warm master: STEPS steps (default 100) minus one step on
# one host, against STEPS `ssh HOST true` over one master.
# Needs root, iproute2, openssh-server/openssh-client, python3 (venv).
#   bench/fleet.sh [N]           TEJUN=/path/to/tejun skips the build
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10}
RUNS=${RUNS:-5}
STEPS=${STEPS:-100}
export FLEET_USER=${FLEET_USER:-tejun-bench}
DIR=$(mktemp -u /tmp/tejun-bench-fleet.XXXXXX)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "${TEJUN:-}" ]; then
  cargo build --release -q -p tejun-cli
  TEJUN=$PWD/$CARGO_TARGET_DIR/release/tejun
fi
TEJUN=$(realpath "$TEJUN") # the runs below cd into the fleet's directory
scripts/fleet-up.sh "$N" "$DIR" >/dev/null
trap 'scripts/fleet-down.sh "$DIR" >/dev/null' EXIT
hosts=$(cut -d' ' -f1 "$DIR/hosts")

cat > "$DIR/one.yaml" <<'YAML'
name: one command on every host
env: [staging]
hosts: web
execute:
  - run: 'true'
YAML

ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || echo "bench: failed: $*" >&2; e=$(date +%s%N); echo $(((e - s) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

tejun_once() { (cd "$DIR" && TEJUN_SSH_CONFIG="$DIR/ssh_config" "$TEJUN" run one.yaml --env staging --yes); }
ssh_once() { echo "$hosts" | xargs -P "$N" -I{} ssh -F "$DIR/ssh_config" -o BatchMode=yes {} true; }

venv=${ANSIBLE_VENV:-/tmp/tejun-bench-ansible-venv}
if [ ! -x "$venv/bin/ansible" ]; then
  python3 -m venv "$venv" && "$venv/bin/pip" install -q ansible-core >/dev/null 2>&1 || true
fi
ansible_ok=0
if [ -x "$venv/bin/ansible" ]; then
  ansible_ok=1
  { echo "[web]"; echo "$hosts"; } > "$DIR/ansible.ini"
  # A fresh control directory per run: Ansible's own ControlPersist=60s
  # masters would otherwise carry warm connections from one run to the
  # next, while the other columns connect afresh every run.
  ansible_once() {
    ANSIBLE_SSH_CONTROL_PATH_DIR=$(mktemp -d "$DIR/acp.XXXXXX") \
    ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 \
      "$venv/bin/ansible" web -i "$DIR/ansible.ini" -m command -a true -f "$N" \
      --ssh-common-args="-F $DIR/ssh_config"
  }
  ansible_once >/dev/null 2>&1 || { echo "bench: ansible cannot reach the fleet; skipped" >&2; ansible_ok=0; }
else
  echo "bench: ansible-core not installable here (no PyPI?); skipped" >&2
fi


# Per-step overhead on a warm master: STEPS+1 steps vs 1 step on one host,
# against STEPS `ssh HOST true` over one master.
{ echo "name: many steps on one host"; echo "env: [staging]"; echo "hosts: web-1"; echo "execute:"
  for _ in $(seq $((STEPS + 1))); do echo "  - run: 'true'"; done; } > "$DIR/many.yaml"
sed 's/hosts: web$/hosts: web-1/' "$DIR/one.yaml" > "$DIR/single.yaml"
tejun_file() { (cd "$DIR" && TEJUN_SSH_CONFIG="$DIR/ssh_config" "$TEJUN" run "$1" --env staging --yes); }
master_steps() {
  ssh -F "$DIR/ssh_config" -o ControlMaster=yes -o ControlPath="$DIR/cm" -o ControlPersist=yes -N -f web-1
  for _ in $(seq "$1"); do ssh -F "$DIR/ssh_config" -o ControlPath="$DIR/cm" web-1 true; done
  ssh -F "$DIR/ssh_config" -o ControlPath="$DIR/cm" -O exit web-1 2>/dev/null
}

tejun_once >/dev/null 2>&1 || { echo "bench: tejun run failed" >&2; exit 1; }
: > "$DIR/t"; : > "$DIR/s"; : > "$DIR/a"; : > "$DIR/many"; : > "$DIR/m1"; : > "$DIR/sN"; : > "$DIR/s0"
for _ in $(seq "$RUNS"); do
  ms tejun_once >> "$DIR/t"
  ms ssh_once >> "$DIR/s"
  [ "$ansible_ok" = 1 ] && ms ansible_once >> "$DIR/a"
  ms tejun_file many.yaml >> "$DIR/many"
  ms tejun_file single.yaml >> "$DIR/m1"
  ms master_steps "$STEPS" >> "$DIR/sN"
  ms master_steps 0 >> "$DIR/s0"
done
t=$(median < "$DIR/t"); s=$(median < "$DIR/s")
echo "| tool (N=$N hosts, median of $RUNS) | wall ms | vs parallel ssh |"
echo "|---|---:|---:|"
echo "| xargs -P $N ssh HOST true (floor) | $s | 1.00x |"
echo "| tejun run (hosts: web, one step) | $t | $(awk "BEGIN {printf \"%.2fx\", $t / $s}") |"
if [ "$ansible_ok" = 1 ]; then
  a=$(median < "$DIR/a")
  echo "| ansible -m command -a true -f $N | $a | $(awk "BEGIN {printf \"%.2fx\", $a / $s}") |"
  echo
  echo "tejun is $(awk "BEGIN {printf \"%.1f\", $a / $t}")x faster than ansible"
fi
many=$(median < "$DIR/many"); m1=$(median < "$DIR/m1"); sN=$(median < "$DIR/sN"); s0=$(median < "$DIR/s0")
echo
echo "per step on a warm master (one host, $STEPS steps): tejun $(awk "BEGIN {printf \"%.1f\", ($many - $m1) / $STEPS}") ms, bare ssh over the master $(awk "BEGIN {printf \"%.1f\", ($sN - $s0) / $STEPS}") ms"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
