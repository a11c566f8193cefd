#!/usr/bin/env bash
# Multi-host test on one machine: network namespaces joined by a bridge that
# lives in its own namespace (nothing touches the host's network):
#
#   broker 10.231.0.1   gw1 10.231.0.2   gw2 10.231.0.3   client 10.231.0.4
#
# multihost.mjs, run in the client namespace, starts the daemons in theirs
# and checks that group messages cross hosts, that cutting gw1's link leaves
# gw2's clients served and gw1 recovers when it comes back, and that a
# broker killed and restarted is survived. Namespaces are removed at the end,
# even on failure.
#
#   tests/deploy/multihost_test.sh CHANNEL_BROKER_BIN WS_GATEWAY_BIN
set -euo pipefail
broker_bin=$(realpath "$1")
gateway_bin=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
[[ $EUID -eq 0 ]] || { echo "multihost: needs root for ip netns" >&2; exit 1; }

p="ch$$"  # namespace prefix, unique per run
hosts=(broker gw1 gw2 client)
cleanup() {
  local rc=$?
  for h in "${hosts[@]}"; do
    ip netns pids "$p-$h" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns delete "$p-$h" 2>/dev/null || true
  done
  ip netns delete "$p-sw" 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT

ip netns add "$p-sw"
ip -n "$p-sw" link add br0 type bridge
ip -n "$p-sw" link set br0 up
ip -n "$p-sw" link set lo up
n=1
for h in "${hosts[@]}"; do
  ip netns add "$p-$h"
  # Interface names are at most 15 bytes: e<n>-<pid> / p<n>-<pid>.
  ip link add "e$n-$$" type veth peer name "p$n-$$"
  ip link set "e$n-$$" netns "$p-$h"
  ip link set "p$n-$$" netns "$p-sw"
  ip -n "$p-$h" link set "e$n-$$" name eth0
  ip -n "$p-$h" addr add "10.231.0.$n/24" dev eth0
  ip -n "$p-$h" link set eth0 up
  ip -n "$p-$h" link set lo up
  ip -n "$p-sw" link set "p$n-$$" master br0
  ip -n "$p-sw" link set "p$n-$$" up
  n=$((n + 1))
done

# gw1 is host 2: its switch port is p2-<pid>.
ip netns exec "$p-client" node --experimental-websocket --no-warnings \
  "$here/multihost.mjs" "$p" "$broker_bin" "$gateway_bin" "p2-$$"
