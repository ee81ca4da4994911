#!/usr/bin/env bash
# Tears down a fleet made by scripts/fleet-up.sh: stops each sshd, deletes
# its namespace, veth and address lease, the FLEET_USER it made, then
# the directory.
#
#   sudo scripts/fleet-down.sh [DIR=/tmp/tejun-fleet]
set -uo pipefail
dir="${1:-/tmp/tejun-fleet}"
[ -f "$dir/hosts" ] || { echo "fleet-down: no fleet in $dir" >&2; exit 2; }
while read -r name addr ns veth; do
  [ -f "$dir/sshd-$name.pid" ] && kill "$(cat "$dir/sshd-$name.pid")" 2>/dev/null
  ip netns pids "$ns" 2>/dev/null | xargs -r kill -9
  ip netns del "$ns" 2>/dev/null
  ip link del "$veth" 2>/dev/null
  rm -f "/tmp/tejun-fleet-leases/$addr"
done < "$dir/hosts"
if [ -f "$dir/user" ]; then
  user=$(cat "$dir/user")
  pkill -KILL -u "$user" 2>/dev/null
  userdel -r "$user" 2>/dev/null
fi
rm -rf "$dir"
echo "fleet in $dir removed"
