#!/usr/bin/env bash
# Runs ws-loadgen's scenarios against a broker and gateways started here on
# loopback, and prints the figures docs/BENCHMARKS.md records.
# Usage: tools/bench/gateway-bench.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
ulimit -n "$(ulimit -Hn)"   # 10,000 idle connections on each side
. tools/bench/lib.sh

bport=$(free_port)
"$build/broker/channel-broker" --listen=127.0.0.1 --port="$bport" --admin_port=-1 \
  --log_level=warn 2>"$tmp/broker.log" &
broker_pid=$!; pids+=("$broker_pid")
start_gateways() {  # start_gateways N THREADS
  gw_uris=(); gw_pids=()
  for n in $(seq "$1"); do
    local port; port=$(free_port)
    "$build/gateway/ws-gateway" --listen=127.0.0.1 --port="$port" --admin_port=-1 \
      --threads="$2" --broker="127.0.0.1:$bport" --log_level=info \
      --max_queued_bytes=16777216 --rate_limit_per_sec=0 --rate_limit_bytes_per_sec=0 --max_pending_handshakes_per_source=0 \
      --max_pending_handshakes=20000 2>"$tmp/gw$n.log" &
    gw_pids+=($!); pids+=($!)
    wait_log "$tmp/gw$n.log" "broker link up"
    gw_uris+=("ws://127.0.0.1:$port")
  done
}
stop_gateways() { kill "${gw_pids[@]}"; wait "${gw_pids[@]}" 2>/dev/null || true; }
lg() { "$build/tools/ws-loadgen" --gateways="$(IFS=,; echo "${gw_uris[*]}")" \
        --gateway_pids="$(IFS=,; echo "${gw_pids[*]}")" --broker_pid="$broker_pid" "$@"; }

echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r)"
echo "## one gateway, --threads=1"
start_gateways 1 1
lg --scenario=fanout-burst --members=1000 --messages=2000 --payload=64
lg --scenario=fanout-paced --members=1000 --rate=100 --seconds=10 --payload=64
lg --scenario=many-groups --groups=2000 --messages=200000 --payload=64
lg --scenario=churn --cycles=5000
lg --scenario=idle --connections=10000 --seconds=5
stop_gateways
echo "## one gateway, --threads=2"
start_gateways 1 2
lg --scenario=fanout-burst --members=1000 --messages=2000 --payload=64
lg --scenario=many-groups --groups=2000 --messages=200000 --payload=64
stop_gateways
echo "## two gateways, --threads=1 each (members spread over both)"
start_gateways 2 1
lg --scenario=fanout-burst --members=1000 --messages=2000 --payload=64
lg --scenario=many-groups --groups=2000 --messages=200000 --payload=64
stop_gateways
