#!/usr/bin/env bash
# wss next to ws on one gateway (--threads=1): idle memory (2,000
# connections, RSS per connection at once and after 2 s idle) and fan-out
# CPU (1,000 members, 2,000 x 64 B bursts), RUNS times each, with a
# certificate made here (ECDSA P-256; KEY=rsa for RSA 2048). Prints the
# figures docs/BENCHMARKS.md records ("wss on WsConnection").
# Usage: tools/bench/wss-bench.sh [BUILD_DIR] [GATEWAY_BIN]
#   GATEWAY_BIN: another ws-gateway binary to measure (e.g. an older one).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
gateway=${2:-$build/gateway/ws-gateway}
runs=${RUNS:-3}
ulimit -n "$(ulimit -Hn)"
. tools/bench/lib.sh

if [[ "${KEY:-ec}" == rsa ]]; then newkey=(-newkey rsa:2048); else
  newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1); fi
openssl req -x509 "${newkey[@]}" -nodes -days 1 -keyout "$tmp/key.pem" \
  -out "$tmp/cert.pem" -subj /CN=127.0.0.1 2>/dev/null
bport=$(free_port)
"$build/broker/channel-broker" --listen=127.0.0.1 --port="$bport" --admin_port=-1 \
  --log_level=warn 2>"$tmp/broker.log" &
broker_pid=$!; pids+=("$broker_pid")
run() {  # run ws|wss loadgen-args...: a fresh gateway for each run
  local scheme=$1 port tls=() pid; shift
  port=$(free_port)
  [[ $scheme == wss ]] && tls=(--tls_cert="$tmp/cert.pem" --tls_key="$tmp/key.pem")
  "$gateway" --listen=127.0.0.1 --port="$port" --admin_port=-1 --threads=1 \
    --broker="127.0.0.1:$bport" --log_level=warn --max_queued_bytes=16777216 \
    --rate_limit_per_sec=0 --rate_limit_bytes_per_sec=0 \
    --max_pending_handshakes=20000 --max_pending_handshakes_per_source=0 \
    "${tls[@]}" 2>"$tmp/gw.log" &
  pid=$!; pids+=("$pid")
  for _ in $(seq 100); do grep -q "listening on" "$tmp/gw.log" && break; sleep 0.1; done
  "$build/tools/ws-loadgen" --gateways="$scheme://127.0.0.1:$port" \
    --gateway_pids="$pid" --broker_pid="$broker_pid" "$@" | sed "s/^/$scheme: /"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r), $gateway, key ${KEY:-ec}"
for scheme in ws wss; do
  for _ in $(seq "$runs"); do
    run "$scheme" --scenario=idle --connections=2000 --seconds=2 | grep idle
    run "$scheme" --scenario=fanout-burst --members=1000 --messages=2000 --payload=64 | grep cpu
  done
done
