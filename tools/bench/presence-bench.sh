#!/usr/bin/env bash
# Presence members benchmark (docs/BENCHMARKS.md "Presence members"): a
# broker with --presence and two ws-gateways (one thread each) on loopback;
# Node `ws` clients with HS256 tokens (tools/bench/harness/presence-bench.mjs).
# A room of MEMBERS (default 100) members joins at once, then every member
# leaves and re-joins once; every member's view must end exact (the script
# fails otherwise). Prints the CPU of broker + gateways per membership event
# and per delivered member event.
# Usage: tools/bench/presence-bench.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
ulimit -n "$(ulimit -Hn)"
(cd tools/bench/harness && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
. tools/bench/lib.sh
secret=$(openssl rand -hex 32)
bport=$(free_port)
"$build/broker/channel-broker" --listen=127.0.0.1 --port="$bport" --admin_port=-1 \
  --log_level=warn --presence='room-*:max_members=10000' 2>"$tmp/broker.log" &
bpid=$!; pids+=("$bpid")
gws=() watch=("$bpid")
for i in 0 1; do
  port=$(free_port)
  "$build/gateway/ws-gateway" --listen=127.0.0.1 --port="$port" --admin_port=-1 --threads=1 \
    --broker="127.0.0.1:$bport" --log_level=info --token_hmac_secret="$secret" \
    --rate_limit_per_sec=0 --rate_limit_bytes_per_sec=0 \
    --max_pending_handshakes_per_source=0 2>"$tmp/gw$i.log" &
  pid=$!; pids+=("$pid"); watch+=("$pid")
  wait_log "$tmp/gw$i.log" "broker link up"
  gws+=("ws://127.0.0.1:$port")
done
node tools/bench/harness/presence-bench.mjs --gateways="$(IFS=,; echo "${gws[*]}")" \
  --pids="$(IFS=,; echo "${watch[*]}")" --secret="$secret" --members="${MEMBERS:-100}"
