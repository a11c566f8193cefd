#!/usr/bin/env bash
# The HTTP API's cost next to the binary protocol: a broker with --api_port
# started here on loopback, then tools/bench/broker/api_bench.cc (20,000
# publishes each way, one at a time over one connection).
# Usage: tools/bench/api-bench.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
. tools/bench/lib.sh
bport=$(free_port); aport=$(free_port); key=$(openssl rand -hex 16)
"$build/broker/channel-broker" --listen=127.0.0.1 --port="$bport" --admin_port=-1 \
  --api_port="$aport" --api_key="$key" --log_level=warn 2>"$tmp/broker.log" &
bpid=$!; pids+=("$bpid")
for _ in $(seq 50); do ss -Hltn | grep -q ":$aport " && break; sleep 0.1; done
echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r)"
"$build/tools/api-bench" --broker_port="$bport" --api_port="$aport" \
  --api_key="$key" --broker_pid="$bpid" --publishes=20000
