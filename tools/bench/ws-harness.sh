#!/usr/bin/env bash
# The external-harness benchmark (docs/BENCHMARKS.md): a broker and one
# ws-gateway with one thread started here on loopback (rate limit off), and
# Node `ws` clients (tools/bench/harness) in the four shapes. Server CPU is
# broker + gateway.
# Usage: tools/bench/ws-harness.sh [BUILD_DIR] [SHAPE...]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
shift || true
shapes=("$@")
((${#shapes[@]})) || shapes=(fanout-burst fanout-paced routed-burst routed-paced)
# Also: php-fanout-burst (the publisher a PHP-codec client; not in the
# default set).
ulimit -n "$(ulimit -Hn)"
(cd tools/bench/harness && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
tmp=$(mktemp -d)
pids=()
cleanup() {
  ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_log() { for _ in $(seq 100); do grep -q "$2" "$1" && return 0; sleep 0.1; done; echo "no '$2' in $1" >&2; cat "$1" >&2; exit 1; }

for shape in "${shapes[@]}"; do
  bport=$(free_port); gport=$(free_port)
  "$build/broker/channel-broker" --listen=127.0.0.1 --port="$bport" --admin_port=-1 \
    --log_level=warn 2>"$tmp/broker.log" &
  bpid=$!; pids+=("$bpid")
  "$build/gateway/ws-gateway" --listen=127.0.0.1 --port="$gport" --admin_port=-1 \
    --threads=1 --broker="127.0.0.1:$bport" --log_level=info --rate_limit_per_sec=0 \
    --max_queued_bytes=16777216 2>"$tmp/gw.log" &
  gpid=$!; pids+=("$gpid")
  wait_log "$tmp/gw.log" "broker link up"
  node tools/bench/harness/ws-harness.mjs --gateways="ws://127.0.0.1:$gport" \
    --pids="$bpid,$gpid" --shape="$shape" --broker_port="$bport"
  kill "$bpid" "$gpid"; wait "$bpid" "$gpid" 2>/dev/null || true
  pids=()
done
