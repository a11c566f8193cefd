#!/usr/bin/env bash
# Multi-host test on one machine: network namespaces joined by a bridge that
# lives in its own namespace (nothing touches the host's network):
#
#   broker 10.231.0.1   gw1 10.231.0.2   gw2 10.231.0.3   client 10.231.0.4
#
# multihost.mjs, run in the client namespace, starts the daemons in theirs
# and checks that group messages and presence cross hosts, that cutting
# gw1's link leaves gw2's clients served, has gw1's presence members removed
# within the broker's idle timeout (a vanished host: no FIN) and back once
# gw1 returns, and that a broker killed and restarted is survived. Namespaces are removed at the end,
# even on failure.
#
#   tests/deploy/multihost_test.sh CHANNEL_BROKER_BIN WS_GATEWAY_BIN
set -euo pipefail
broker_bin=$(realpath "$1")
gateway_bin=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
[[ $EUID -eq 0 ]] || { echo "multihost: needs root for ip netns" >&2; exit 1; }

p="ch$$"  # namespace prefix, unique per run
. "$here/netns_lib.sh"
trap netns_cleanup EXIT

netns_switch br0
n=1
for h in broker gw1 gw2 client; do
  netns_host "$h"
  netns_attach "$h" br0 "10.231.0.$n"
  if [[ $h == gw1 ]]; then gw1_port=$netns_port; fi
  n=$((n + 1))
done

ip netns exec "$p-client" node --experimental-websocket --no-warnings \
  "$here/multihost.mjs" "$p" "$broker_bin" "$gateway_bin" "$gw1_port"
