#!/usr/bin/env bash
# Long soak (outside CI): 100,000 connect/join/send/close cycles (half
# abrupt), then 10,000 idle connections held for IDLE_SECONDS (default 180),
# against a broker and two gateways started here on loopback. Prints open
# descriptors and RSS of each server before, after the churn and after the
# idle phase. Usage: tools/bench/soak.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
cycles=${CYCLES:-100000}
idle_seconds=${IDLE_SECONDS:-180}
ulimit -n "$(ulimit -Hn)"
tmp=$(mktemp -d)
pids=()
cleanup() { ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_log() { for _ in $(seq 100); do grep -q "$2" "$1" && return 0; sleep 0.1; done; cat "$1" >&2; exit 1; }

bport=$(free_port)
"$build/broker/channel-broker" --listen=127.0.0.1 --port="$bport" --admin_port=-1 \
  --log_level=info 2>"$tmp/broker.log" &
broker=$!; pids+=("$broker")
wait_log "$tmp/broker.log" "listening on"
uris=(); gws=()
for n in 1 2; do
  port=$(free_port)
  "$build/gateway/ws-gateway" --listen=127.0.0.1 --port="$port" --admin_port=-1 \
    --threads=1 --broker="127.0.0.1:$bport" --rate_limit_per_sec=0 --rate_limit_bytes_per_sec=0 --max_pending_handshakes_per_source=0 \
    --max_pending_handshakes=20000 --log_level=info 2>"$tmp/gw$n.log" &
  gws+=($!); pids+=($!)
  wait_log "$tmp/gw$n.log" "broker link up"
  uris+=("ws://127.0.0.1:$port")
done
sample() {  # sample LABEL
  local line="$1:"
  for p in "$broker" "${gws[@]}"; do
    line+=" pid $p fds $(ls /proc/$p/fd | wc -l) rss $(awk '/VmRSS/ {print $2}' /proc/$p/status) KiB;"
  done
  echo "$line"
}
lg() { "$build/tools/ws-loadgen" --gateways="$(IFS=,; echo "${uris[*]}")" \
        --gateway_pids="$(IFS=,; echo "${gws[*]}")" --broker_pid="$broker" "$@"; }

sample "start"
lg --scenario=churn --cycles=1000 >/dev/null
sample "after 1,000-cycle warm-up"
lg --scenario=churn --cycles="$cycles"
sample "after $cycles cycles"
lg --scenario=idle --connections=10000 --seconds="$idle_seconds"
sample "after 10,000 idle connections for ${idle_seconds}s (closed)"
lg --scenario=churn --cycles=1000 >/dev/null
sample "after a last 1,000 cycles"
