# Sourced by the multi-host tests: hosts as network namespaces, switches as
# bridges inside one more namespace (nothing touches the host's network).
# Everything is named after $p (set by the caller, unique per run) and
# removed by netns_cleanup, which the caller traps on EXIT.
#
#   netns_switch br0            a bridge in "$p-sw"
#   netns_host name             a host namespace "$p-name" with lo up
#   netns_attach name br0 ip    a veth from host name to bridge br0 with ip/24
#                               (eth0, eth1, ... in the host); sets
#                               $netns_port to the switch-side port's name
#                               (cut the link: ip -n "$p-sw" link set PORT down)
netns_hosts=()
netns_veths=0

netns_cleanup() {
  local rc=$?
  for h in "${netns_hosts[@]}"; do
    ip netns pids "$p-$h" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns delete "$p-$h" 2>/dev/null || true
  done
  ip netns delete "$p-sw" 2>/dev/null || true
  exit "$rc"
}

netns_switch() {
  ip netns list | grep -q "^$p-sw\b" || {
    ip netns add "$p-sw"
    ip -n "$p-sw" link set lo up
  }
  ip -n "$p-sw" link add "$1" type bridge
  ip -n "$p-sw" link set "$1" up
}

netns_host() {
  ip netns add "$p-$1"
  ip -n "$p-$1" link set lo up
  netns_hosts+=("$1")
}

netns_attach() {
  local host=$1 bridge=$2 addr=$3
  netns_veths=$((netns_veths + 1))
  # Interface names are at most 15 bytes: e<n>-<pid> / p<n>-<pid>.
  local inner="e$netns_veths-$$" outer="p$netns_veths-$$"
  local ifname
  ifname="eth$(ip -n "$p-$host" -o link show | grep -c ': eth' || true)"
  ip link add "$inner" type veth peer name "$outer"
  ip link set "$inner" netns "$p-$host"
  ip link set "$outer" netns "$p-sw"
  ip -n "$p-$host" link set "$inner" name "$ifname"
  ip -n "$p-$host" addr add "$addr/24" dev "$ifname"
  ip -n "$p-$host" link set "$ifname" up
  ip -n "$p-sw" link set "$outer" master "$bridge"
  ip -n "$p-sw" link set "$outer" up
  netns_port=$outer
}
