#!/usr/bin/env bash
# Handshake cost with token authentication: 10,000 WebSocket connections
# opened against one ws-gateway (--threads=1) without tokens, with HS256 and
# with ES256 tokens in the URL; connections per second and gateway CPU per
# connection (ws-loadgen's "idle" scenario). Then the fan-out and routed
# shapes with tokens on, to show they do not move (checks happen at join
# and send, not per delivery).
# Usage: tools/bench/auth-bench.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
ulimit -n "$(ulimit -Hn)"
. tools/bench/lib.sh

secret=$(openssl rand -hex 32)
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/ec.pem" 2>/dev/null
openssl pkey -in "$tmp/ec.pem" -pubout -out "$tmp/ec.pub" 2>/dev/null
exp=$(($(date +%s) + 3600))
claims="{\"sub\":\"bench\",\"groups\":[\"*\"],\"send\":[\"*\"],\"exp\":$exp}"
hs=$(node tools/bench/harness/mint-token.mjs HS256 "$secret" "$claims")
es=$(node tools/bench/harness/mint-token.mjs ES256 "$tmp/ec.pem" "$claims")

bport=$(free_port)
"$build/broker/channel-broker" --listen=127.0.0.1 --port="$bport" --admin_port=-1 \
  --log_level=warn 2>"$tmp/broker.log" &
broker_pid=$!; pids+=("$broker_pid")

run() {  # run NAME SUFFIX GATEWAY-FLAGS...
  local name=$1 suffix=$2; shift 2
  local port; port=$(free_port)
  "$build/gateway/ws-gateway" --listen=127.0.0.1 --port="$port" --admin_port=-1 \
    --threads=1 --broker="127.0.0.1:$bport" --log_level=info --rate_limit_per_sec=0 --rate_limit_bytes_per_sec=0 --max_pending_handshakes_per_source=0 \
    --max_queued_bytes=16777216 --max_pending_handshakes=20000 "$@" 2>"$tmp/gw.log" &
  local gpid=$!
  wait_log "$tmp/gw.log" "broker link up"
  echo "## $name"
  local lg=("$build/tools/ws-loadgen" --gateways="ws://127.0.0.1:$port"
            --gateway_pids="$gpid" --broker_pid="$broker_pid" --url_suffix="$suffix")
  "${lg[@]}" --scenario=idle --connections=10000 --seconds=1
  "${lg[@]}" --scenario=fanout-burst --members=1000 --messages=2000 --payload=64
  "${lg[@]}" --scenario=many-groups --groups=2000 --messages=200000 --payload=64
  kill "$gpid"; wait "$gpid" 2>/dev/null || true
}
echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r)"
run "no tokens" ""
run "HS256" "/?token=$hs" --token_hmac_secret="$secret"
run "ES256" "/?token=$es" --token_public_key="$tmp/ec.pub"
