#!/usr/bin/env bash
# Multi-host cluster test on one machine (network namespaces, see
# netns_lib.sh). Two networks, as in a data centre where the message bus
# has its own segment:
#
#   back  10.233.0.0/24: nats1 .1, nats2 .2, nats3 .3, b1 .4, b2 .5
#   front 10.232.0.0/24: b1 .4, b2 .5, gw1 .6, gw2 .7, client .8
#
# multihost_cluster.mjs, run in the client namespace, starts a 3-node NATS
# cluster (routes across hosts), two brokers on different hosts and
# different NATS nodes, two gateways each preferring a different broker,
# and checks: messages cross brokers exactly once; cutting b1's link to
# NATS (its back port) makes b1 unready and sends gw1 to b2, where delivery
# goes on; b1 recovers when the link is back, and cutting b2's link then
# sends both gateways to b1. Namespaces are removed at the end, even on
# failure.
#
#   tests/deploy/multihost_cluster_test.sh BROKER_BIN GATEWAY_BIN NATS_SERVER_BIN
set -euo pipefail
broker_bin=$(realpath "$1")
gateway_bin=$(realpath "$2")
nats_bin=$(realpath "$3")
here=$(cd "$(dirname "$0")" && pwd)
[[ $EUID -eq 0 ]] || { echo "multihost: needs root for ip netns" >&2; exit 1; }

p="cc$$"  # namespace prefix, unique per run
. "$here/netns_lib.sh"
trap netns_cleanup EXIT

netns_switch front
netns_switch back
for i in 1 2 3; do
  netns_host "nats$i"
  netns_attach "nats$i" back "10.233.0.$i"
done
netns_host b1
netns_attach b1 back 10.233.0.4
b1_back=$netns_port
netns_attach b1 front 10.232.0.4
netns_host b2
netns_attach b2 back 10.233.0.5
b2_back=$netns_port
netns_attach b2 front 10.232.0.5
netns_host gw1
netns_attach gw1 front 10.232.0.6
netns_host gw2
netns_attach gw2 front 10.232.0.7
netns_host client
netns_attach client front 10.232.0.8

ip netns exec "$p-client" node --experimental-websocket --no-warnings \
  "$here/multihost_cluster.mjs" "$p" "$broker_bin" "$gateway_bin" "$nats_bin" \
  "$b1_back" "$b2_back"
