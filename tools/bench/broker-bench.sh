#!/usr/bin/env bash
# Runs the broker benchmark side by side against channel-broker (with
# protobuf clients, then Workerman Channel PHP-codec clients) and
# redis-server (PUBLISH/SUBSCRIBE) with the same load shapes, on loopback,
# and prints one table. Each server runs alone on its own port; their CPU
# seconds come from /proc. Usage: tools/bench/broker-bench.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
bench="$build/tools/broker-bench"
[[ -x "$bench" ]] || { echo "build first: tools/build.sh" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "needs redis-server (tools/install-deps.sh)" >&2; exit 1; }

. tools/bench/lib.sh

"$build/broker/channel-broker" --listen=127.0.0.1 --port=0 --admin_port=-1 \
  --log_level=warn --max_queued_bytes=268435456 2>"$tmp/broker.log" &
broker_pid=$!; pids+=("$broker_pid")
# The broker logs its port at warn level only on trouble; ask /proc instead.
for _ in $(seq 50); do
  broker_port=$(ss -Hltnp 2>/dev/null | awk -v p="pid=$broker_pid," '$0 ~ p {split($4,a,":"); print a[length(a)]; exit}')
  [[ -n "$broker_port" ]] && break; sleep 0.1
done
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --daemonize no --loglevel warning >"$tmp/redis.log" 2>&1 &
redis_pid=$!; pids+=("$redis_pid")
for _ in $(seq 50); do
  ss -Hltn | grep -q ":$redis_port " && break; sleep 0.1
done

echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r)"
echo "# channel-broker pid $broker_pid port $broker_port; redis-server $(redis-server --version | awk '{print $3}') pid $redis_pid port $redis_port"
header=--header
run() {  # run SHAPE-FLAGS...: protobuf codec, PHP codec, Redis
  "$bench" --target=channel --port="$broker_port" --server_pid="$broker_pid" $header "$@"
  header=
  "$bench" --target=php --port="$broker_port" --server_pid="$broker_pid" "$@"
  "$bench" --target=redis --port="$redis_port" --server_pid="$redis_pid" "$@"
}
run --publishers=4 --subscribers=100 --fanout=1 --payload=64   --publishes=400000
run --publishers=4 --subscribers=100 --fanout=1 --payload=4096 --publishes=200000
run --publishers=1 --fanout=1000 --payload=64   --publishes=3000
run --publishers=1 --fanout=1000 --payload=4096 --publishes=500
