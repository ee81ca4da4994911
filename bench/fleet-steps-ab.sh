#!/usr/bin/env bash
# Per-step overhead on one warm ssh master, two tejun binaries interleaved
# against bare `ssh HOST true` over a master: prints one line per round,
# "before after bare" in microseconds per step (STEPS+1 steps minus one
# step, divided by STEPS), and the load average; then the medians.
# Logs in as a dedicated user (FLEET_USER, default tejun-ab) on a one-host
# fleet made here and removed at the end. Root only.
#   bench/fleet-steps-ab.sh OLD_TEJUN NEW_TEJUN     (STEPS=100 ROUNDS=7)
set -euo pipefail
cd "$(dirname "$0")/.."
before=$(realpath "$1"); after=$(realpath "$2")
STEPS=${STEPS:-100}; ROUNDS=${ROUNDS:-7}
D=$(mktemp -u /tmp/tejun-bench-ab.XXXXXX)
FLEET_USER=${FLEET_USER:-tejun-ab} scripts/fleet-up.sh 1 "$D" >/dev/null
trap 'scripts/fleet-down.sh "$D" >/dev/null' EXIT
export TEJUN_SSH_CONFIG=$D/ssh_config
{ echo "name: many"; echo "env: [staging]"; echo "hosts: web-1"; echo "execute:"
  for _ in $(seq $((STEPS + 1))); do echo "  - run: 'true'"; done; } > "$D/many.yaml"
{ echo "name: one"; echo "env: [staging]"; echo "hosts: web-1"; echo "execute:"; echo "  - run: 'true'"; } > "$D/single.yaml"
F=(-F "$D/ssh_config" -o ControlPath="$D/cm")
us() { local s; s=$(date +%s%N); "$@" >/dev/null 2>&1; echo $((($(date +%s%N) - s) / 1000)); }
tj() { (cd "$D" && "$1" run "$2" --env staging --yes); }
bare() {
  ssh "${F[@]}" -o ControlMaster=yes -o ControlPersist=yes -N -f web-1
  for _ in $(seq "$1"); do ssh "${F[@]}" web-1 true; done
  ssh "${F[@]}" -O exit web-1 2>/dev/null
}
tj "$after" single.yaml >/dev/null 2>&1
: > "$D/rounds"
for _ in $(seq "$ROUNDS"); do
  bm=$(us tj "$before" many.yaml); b1=$(us tj "$before" single.yaml)
  am=$(us tj "$after" many.yaml); a1=$(us tj "$after" single.yaml)
  sm=$(us bare "$STEPS"); s0=$(us bare 0)
  echo "$(((bm - b1) / STEPS)) $(((am - a1) / STEPS)) $(((sm - s0) / STEPS)) load $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$D/rounds"
done
med() { cut -d' ' -f"$1" "$D/rounds" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "median us per step: before $(med 1), after $(med 2), bare ssh over the master $(med 3)"
