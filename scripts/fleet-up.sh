#!/usr/bin/env bash
# A practice fleet on this machine: N hosts web-1..web-N, each a network
# namespace with its own address in 198.18.0.0/24 (RFC 2544 benchmark
# range, routed nowhere) and its own sshd, plus a tejun.yaml, an
# ssh_config, a known_hosts made by ssh-keyscan and an example runbook.
# The same layout as the test harness (crates/tejun-cli/tests/fleet).
#
#   sudo scripts/fleet-up.sh [N=4] [DIR=/tmp/tejun-fleet]
#   cd DIR && TEJUN_SSH_CONFIG=$PWD/ssh_config tejun run rollout.yaml --env staging --yes
#   sudo scripts/fleet-down.sh [DIR]
#
# FLEET_USER=NAME logs in as a dedicated user made here (plain home from
# /etc/skel, bash, no password) instead of root, and fleet-down removes
# it: the hosts share this machine's file system, so root's own shell
# init (a pyenv hook, say) would otherwise run at every login
# (bench/fleet.sh uses it).
#
# Needs root (ip netns), iproute2 and openssh-server/openssh-client.
set -euo pipefail
n="${1:-4}"
dir="${2:-/tmp/tejun-fleet}"
user="${FLEET_USER:-root}"
leases=/tmp/tejun-fleet-leases
root_addr=198.18.0.1

[ "$(id -u)" = 0 ] || { echo "fleet-up: needs root (network namespaces); try sudo" >&2; exit 2; }
for tool in ip /usr/sbin/sshd ssh ssh-keygen ssh-keyscan; do
  command -v "$tool" >/dev/null || { echo "fleet-up: $tool missing (apt-get install iproute2 openssh-server openssh-client)" >&2; exit 2; }
done
[ ! -e "$dir/hosts" ] || { echo "fleet-up: $dir already holds a fleet; run scripts/fleet-down.sh $dir first" >&2; exit 2; }

mkdir -p "$dir" "$leases" /run/sshd
chmod 700 "$dir" "$leases"
ssh-keygen -q -t ed25519 -N '' -C tejun-fleet -f "$dir/id_ed25519" <<<y >/dev/null
cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
keys="$dir/authorized_keys"
if [ "$user" != root ]; then
  ! id "$user" >/dev/null 2>&1 || { echo "fleet-up: user $user exists already; pick another FLEET_USER" >&2; exit 2; }
  useradd -m -s /bin/bash -c "tejun fleet ($dir)" "$user"
  usermod -p '*' "$user" # no password, but not locked (sshd refuses locked accounts)
  echo "$user" > "$dir/user"
  home=$(getent passwd "$user" | cut -d: -f6)
  install -d -m 700 -o "$user" "$home/.ssh"
  install -m 600 -o "$user" "$dir/authorized_keys" "$home/.ssh/authorized_keys"
  keys=.ssh/authorized_keys
fi
: > "$dir/hosts"; : > "$dir/known_hosts"; : > "$dir/ssh_config"

# A free address: a lease file created exclusively (shared with the tests).
lease() {
  for octet in $(seq 10 250); do
    if (set -o noclobber; echo "$$" > "$leases/198.18.0.$octet") 2>/dev/null; then
      echo "$octet"; return
    fi
  done
  echo "fleet-up: no free address in 198.18.0.10-250" >&2; exit 1
}

host_lines=""
for i in $(seq 1 "$n"); do
  name="web-$i"; octet=$(lease); addr="198.18.0.$octet"
  ns="tejun-fleet-$octet"; veth="tjv$octet"
  ip netns add "$ns"
  ip link add "$veth" type veth peer name "${veth}p"
  ip link set "${veth}p" netns "$ns"
  ip addr add "$root_addr/32" dev "$veth"
  ip link set "$veth" up
  ip route add "$addr/32" dev "$veth" src "$root_addr"
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ip link set "${veth}p" name eth0
  ip netns exec "$ns" ip addr add "$addr/32" dev eth0
  ip netns exec "$ns" ip link set eth0 up
  ip netns exec "$ns" ip route add "$root_addr/32" dev eth0
  ssh-keygen -q -t ed25519 -N '' -f "$dir/host-$name" <<<y >/dev/null
  cat > "$dir/sshd-$name.conf" <<CONF
ListenAddress $addr:22
HostKey $dir/host-$name
PidFile $dir/sshd-$name.pid
AuthorizedKeysFile $keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxSessions 100
LogLevel ERROR
CONF
  ip netns exec "$ns" /usr/sbin/sshd -f "$dir/sshd-$name.conf"
  for _ in $(seq 1 100); do [ -s "$dir/sshd-$name.pid" ] && break; sleep 0.05; done
  # The lease lives as long as this host's sshd.
  cat "$dir/sshd-$name.pid" > "$leases/$addr"
  echo "$name $addr $ns $veth" >> "$dir/hosts"
  for _ in $(seq 1 50); do
    line=$(ssh-keyscan -T 2 -t ed25519 "$addr" 2>/dev/null) && [ -n "$line" ] && break; sleep 0.1
  done
  echo "$line" >> "$dir/known_hosts"
  cat >> "$dir/ssh_config" <<CONF
Host $name
  HostName $addr
  User $user
  IdentityFile $dir/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $dir/known_hosts
  GlobalKnownHostsFile /dev/null
CONF
  zone=$([ $((i % 2)) = 1 ] && echo a || echo b)
  host_lines+="      $name: {zone: $zone}"$'\n'
done

names=$(cut -d' ' -f1 "$dir/hosts" | paste -sd, - | sed 's/,/, /g')
cat > "$dir/tejun.yaml" <<YAML
environments:
  staging:
    hosts:
${host_lines}    groups:
      web: [$names]
  production:
    protected: true
    hosts: [prod-web-1]
YAML
cat > "$dir/rollout.yaml" <<'YAML'
name: Roll a marker file across the web group
env: [staging]
hosts: web
rollout:
  serial: [1, 50%, 100%]
pre:
  - check: test -d /tmp
execute:
  - id: change
    run: 'echo "release 2 on $TEJUN_HOST (zone $TEJUN_HOST_ZONE)" > "/tmp/tejun-fleet-demo-$TEJUN_HOST"'
post:
  - check: 'grep -q "release 2" "/tmp/tejun-fleet-demo-$TEJUN_HOST"'
  - run: 'echo rollout finished'
    on: local
rollback:
  steps:
    - run: 'rm -f "/tmp/tejun-fleet-demo-$TEJUN_HOST"'
YAML
echo "fleet of $n hosts in $dir:"
cat "$dir/hosts"
echo "try: cd $dir && TEJUN_SSH_CONFIG=$dir/ssh_config tejun run rollout.yaml --env staging --yes"
