#!/usr/bin/env bash
# Scale: N concurrent WebSocket connections (default 100,000) on this
# machine, over 6 gateways and 2 brokers clustered on a 3-node NATS cluster
# (routes), each connection in 3 of 1,000 groups, then a paced stream of
# group messages with exact loss/duplicate accounting and latency. The
# client side is 6 ws-loadgen processes (scale-members; a process holds at
# most RLIMIT_NOFILE sockets: 20,000 here, which is also why there are 6
# gateways rather than 4) and one sender (scale-send).
# With MODE=standalone in the environment: the same load on one broker and
# no NATS (the comparison the issue asks for: CPU per routed message).
# Usage: tools/bench/scale-bench.sh [BUILD_DIR] [CONNECTIONS] [RATE] [SECONDS]
#                                   [GROUPS_PER_CONNECTION]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
conns=${2:-100000}
rate=${3:-50}
secs=${4:-20}
per_conn=${5:-3}
parts=6
per=$(((conns + parts - 1) / parts))
ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < per + 1000)); then
  echo "scale-bench: $per sockets per process need RLIMIT_NOFILE >= $((per + 1000))" >&2
  exit 1
fi
. tools/bench/lib.sh

cpu_of() {  # CPU seconds (user+system) of the given PIDs, summed
  local t=0 pid
  for pid in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done
  echo "scale=2; $t / $(getconf CLK_TCK)" | bc
}
rss_of() {  # RSS in KiB of the given PIDs, summed
  local t=0 pid
  for pid in "$@"; do t=$((t + $(awk '/VmRSS/{print $2}' "/proc/$pid/status"))); done
  echo "$t"
}

mode=${MODE:-cluster}
nats_urls=() nats_pids=() broker_pids=() gw_pids=() gws=()
brokers=2
if [[ $mode == standalone ]]; then brokers=1; else nats_cluster scale; fi
bports=()
for i in $(seq 0 $((brokers - 1))); do
  bp=$(free_port); bports+=("$bp")
  # BROKER_ARGS (environment): more broker flags, e.g. --sole_interest=false.
  read -r -a extra <<<"${BROKER_ARGS:-}"
  if [[ $mode == cluster ]]; then extra+=(--nats="${nats_urls[$i]}"); fi
  "$build/broker/channel-broker" --listen=127.0.0.1 --port="$bp" --admin_port=-1 \
    --log_level=info "${extra[@]}" 2>"$tmp/broker$i.log" &
  pids+=($!); broker_pids+=($!)
  wait_log "$tmp/broker$i.log" "listening on"
  if [[ $mode == cluster ]]; then wait_log "$tmp/broker$i.log" "NATS connected"; fi
done
for i in $(seq 0 $((parts - 1))); do
  gp=$(free_port)
  "$build/gateway/ws-gateway" --listen=127.0.0.1 --port="$gp" --admin_port=-1 --threads=1 \
    --broker="127.0.0.1:${bports[$((i % brokers))]},127.0.0.1:${bports[$(((i + 1) % brokers))]}" \
    --log_level=info --rate_limit_per_sec=0 --rate_limit_bytes_per_sec=0 --max_pending_handshakes_per_source=0 --max_connections=$((per + 1000)) \
    2>"$tmp/gw$i.log" &
  pids+=($!); gw_pids+=($!)
  wait_log "$tmp/gw$i.log" "broker link up"
  gws+=("ws://127.0.0.1:$gp/")
done
servers=("${gw_pids[@]}" "${broker_pids[@]}" "${nats_pids[@]}")
uris=$(IFS=,; echo "${gws[*]}")
echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r)"
if [[ $mode == cluster ]]; then
  echo "# $conns connections: $parts gateways (1 thread each), 2 brokers on 3 NATS nodes, $parts client processes"
else
  echo "# $conns connections: $parts gateways (1 thread each), 1 broker (standalone), $parts client processes"
fi
rss0=$(rss_of "${gw_pids[@]}")
cpu0=$(cpu_of "${servers[@]}")
t0=$(date +%s.%N)
members=()
for i in $(seq 0 $((parts - 1))); do
  first=$((i * per)); n=$(( conns - first < per ? conns - first : per ))
  # Each process connects to every gateway, round robin by global index.
  "$build/tools/ws-loadgen" --scenario=scale-members --gateways="$uris" \
    --first_connection="$first" --connections="$n" --rate="$rate" --seconds="$secs" \
    --groups_per_connection="$per_conn" --latency_out="$tmp/lat$i" >"$tmp/members$i.out" 2>&1 &
  pids+=($!); members+=($!)
done
for i in $(seq 0 $((parts - 1))); do
  for _ in $(seq 1200); do
    grep -q READY "$tmp/members$i.out" && break
    kill -0 "${members[$i]}" 2>/dev/null || { cat "$tmp/members$i.out" >&2; exit 1; }
    sleep 0.5
  done
  grep -q READY "$tmp/members$i.out" || { echo "members $i not ready" >&2; exit 1; }
done
t1=$(date +%s.%N)
rss1=$(rss_of "${gw_pids[@]}")
cpu1=$(cpu_of "${servers[@]}")
echo "connected and joined: $conns in $(echo "$t1 - $t0" | bc) s = $(echo "$conns / ($t1 - $t0)" | bc)/s;" \
  "server cpu $(echo "$cpu1 - $cpu0" | bc) s"
echo "gateway rss $rss0 -> $rss1 KiB = $(echo "scale=2; ($rss1 - $rss0) / $conns" | bc) KiB per connection ($per_conn groups each)"
cpu2=$(cpu_of "${servers[@]}")
"$build/tools/ws-loadgen" --scenario=scale-send --gateways="$uris" --rate="$rate" --seconds="$secs" \
  --groups_per_connection="$per_conn"
rc=0
for pid in "${members[@]}"; do wait "$pid" || rc=1; done
cpu3=$(cpu_of "${servers[@]}")
cat "$tmp"/members*.out | grep -v READY | sed 's/^/  /'
awk '/^members/ {e += $4; d += $6; l += $8; u += $10} END {
  printf "stream: expected %d deliveries, delivered %d, lost %d, dup %d\n", e, d, l, u }' \
  "$tmp"/members*.out
cat "$tmp"/lat* | cut -d' ' -f2 | sort -n | awk '{ v[NR] = $1 } END {
  printf "latency us: p50 %d p99 %d max %d (%d samples)\n", v[int(NR*0.5)], v[int(NR*0.99)], v[NR], NR }'
delivered=$(awk '/^members/ {d += $6} END {print d}' "$tmp"/members*.out)
echo "server cpu during the stream: $(echo "$cpu3 - $cpu2" | bc) s (gateways + brokers + NATS) =" \
  "$(echo "scale=2; ($cpu3 - $cpu2) * 1000000 / $delivered" | bc) us per delivery"
for pid in "${servers[@]}"; do
  printf '  %s (pid %s): rss %s KiB\n' "$(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-50)" "$pid" \
    "$(rss_of "$pid")"
done
# The slowest messages of the stream, by sequence number (a stall shows as
# a run of consecutive numbers).
echo "slowest messages (seq: max latency us):" $(cat "$tmp"/lat* | sort -k1,1n -k2,2n |
  awk '{m[$1] = $2} END {for (s in m) print m[s], s}' | sort -rn | head -8 | awk '{printf "%s:%s ", $2, $1}')
exit "$rc"
