#!/usr/bin/env bash
# Application events benchmark (docs/BENCHMARKS.md "Application events"):
# a broker and one ws-gateway (one thread) on loopback, Node `ws` clients
# (tools/bench/harness/app-bench.mjs).
#   churn-off      connect+join+close cycles, events off
#   churn-on       the same with --events and one consumer (channel-cli
#                  events in a queue group)
#   command        custom commands with an id at RATE/s through a PHP
#                  backend (tools/bench/harness/app_echo_backend.php)
#   webhook        custom commands at RATE/s to a webhook receiver
# Usage: tools/bench/app-bench.sh [BUILD_DIR] [CASE...]
# Environment: RATE (commands per second, default 1000), SECONDS_RUN (10).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
shift || true
cases=("$@")
((${#cases[@]})) || cases=(churn-off churn-on command webhook)
ulimit -n "$(ulimit -Hn)"
(cd tools/bench/harness && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
. tools/bench/lib.sh
rate=${RATE:-1000}
secs=${SECONDS_RUN:-10}

for c in "${cases[@]}"; do
  bport=$(free_port); gport=$(free_port); hport=$(free_port)
  broker_args=(--listen=127.0.0.1 --port="$bport" --admin_port=-1 --log_level=warn)
  [[ $c == webhook ]] && broker_args+=(--webhook_url="http://127.0.0.1:$hport/hook" --webhook_secret=bench)
  "$build/broker/channel-broker" "${broker_args[@]}" 2>"$tmp/broker.log" &
  bpid=$!; pids+=("$bpid")
  gw_args=(--listen=127.0.0.1 --port="$gport" --admin_port=-1 --threads=1
           --broker="127.0.0.1:$bport" --log_level=info --rate_limit_per_sec=0
           --rate_limit_bytes_per_sec=0 --max_pending_handshakes_per_source=0)
  [[ $c != churn-off ]] && gw_args+=(--events)
  "$build/gateway/ws-gateway" "${gw_args[@]}" 2>"$tmp/gw.log" &
  gpid=$!; pids+=("$gpid")
  wait_log "$tmp/gw.log" "broker link up"
  watch=("$bpid" "$gpid")
  if [[ $c == churn-on ]]; then
    "$build/tools/channel-cli" --broker="127.0.0.1:$bport" events >/dev/null 2>"$tmp/cli.log" &
    cpid=$!; pids+=("$cpid"); watch+=("$cpid")
    wait_log "$tmp/cli.log" "receiving application events"
  elif [[ $c == command ]]; then
    php tools/bench/harness/app_echo_backend.php "127.0.0.1:$bport" 2>"$tmp/php.log" &
    cpid=$!; pids+=("$cpid"); watch+=("$cpid")
    wait_log "$tmp/php.log" "backend ready"
  fi
  shape=${c%-*}
  [[ $c == command || $c == webhook ]] && shape=$c
  node tools/bench/harness/app-bench.mjs --gateway="ws://127.0.0.1:$gport" \
    --pids="$(IFS=,; echo "${watch[*]}")" --shape="$shape" --rate="$rate" \
    --seconds="$secs" --receiver_port="$hport" | sed "s/^{/{\"case\":\"$c\",/"
  kill "${watch[@]}" 2>/dev/null; wait "${watch[@]}" 2>/dev/null || true
  pids=()
done
