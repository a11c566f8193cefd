#!/usr/bin/env bash
# Resident memory of an idle broker and gateway (docs/BENCHMARKS.md
# "Memory"): each started on loopback with free ports, the gateway with one
# worker thread linked to the broker, read from /proc/PID/status once both
# answer /readyz. Extra gateway flags (e.g. --token_hmac_secret=...) after
# BUILD_DIR show what loading a library on demand costs.
#
#   tools/bench/idle-rss.sh [BUILD_DIR] [GATEWAY_FLAG ...]
set -euo pipefail
build=${1:-build}
shift || true
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
bp=$(free_port) ba=$(free_port) gp=$(free_port) ga=$(free_port)
"$build/broker/channel-broker" --listen=127.0.0.1 --port="$bp" --admin_listen=127.0.0.1 \
  --admin_port="$ba" --log_level=warn &
broker=$!
"$build/gateway/ws-gateway" --listen=127.0.0.1 --port="$gp" --admin_listen=127.0.0.1 \
  --admin_port="$ga" --threads=1 --broker="127.0.0.1:$bp" --log_level=warn "$@" &
gateway=$!
trap 'kill "$broker" "$gateway" 2>/dev/null; wait 2>/dev/null' EXIT
for port in "$ba" "$ga"; do
  for _ in $(seq 1 100); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" == 200 ]] && break
    sleep 0.1
  done
done
for pid in "$broker" "$gateway"; do
  printf '%-15s %s\n' "$(cat "/proc/$pid/comm")" \
    "$(grep -E '^(VmRSS|RssAnon|RssFile)' "/proc/$pid/status" | awk '{printf "%s %s kB  ", $1, $2}')"
done
