#!/usr/bin/env bash
# Cluster vs standalone on the same load (the external harness's shapes,
# tools/bench/harness): standalone = 1 broker + 2 gateways; cluster = 3
# nats-server nodes with routes + 2 brokers (--nats) + 2 gateways, each
# gateway on its own broker. CPU is summed over every server process
# (brokers, NATS, gateways). MODES (default "standalone cluster") may add
# cluster-history: the cluster on JetStream with --history for every group
# (R3 streams), to set history against the same cluster without it;
# cluster-one: the cluster, members and publishers on gateway 0 (broker 0:
# nothing needs to cross); cluster-cross: members on gateway 0 (broker 0),
# publishers on gateway 1 (broker 1): every message crosses NATS. In
# "cluster" members and publishers are spread over both (half cross).
# MESSAGES: messages per run instead of the shape's default (a longer
# burst settles a small ratio).
# Usage: [MODES=...] [MESSAGES=N] tools/bench/cluster-bench.sh [BUILD_DIR] [SHAPE...]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
shift || true
shapes=("$@")
((${#shapes[@]})) || shapes=(routed-burst routed-paced fanout-burst)
ulimit -n "$(ulimit -Hn)"
(cd tools/bench/harness && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
. tools/bench/lib.sh

run() {  # run MODE SHAPE
  local mode=$1 shape=$2 all=() gws=()
  nats_urls=()
  if [[ $mode == cluster || $mode == cluster-one || $mode == cluster-cross ]]; then
    nats_cluster bench
    all+=("${nats_pids[@]}")
  elif [[ $mode == cluster-history ]]; then
    rm -rf "$tmp"/js*  # a fresh JetStream store per run
    nats_cluster bench js
    all+=("${nats_pids[@]}")
  fi
  local bports=()
  local nb=$([[ $mode == standalone ]] && echo 1 || echo 2)
  for i in $(seq 0 $((nb - 1))); do
    local bp; bp=$(free_port); bports+=("$bp")
    local extra=()
    [[ $mode == cluster* && $mode != cluster-history ]] && extra=(--nats="${nats_urls[$i]}")
    [[ $mode == cluster-history ]] && extra=(--nats="${nats_urls[$i]}" ${HISTORY_ARGS:---history=*:size=100})
    # BROKER_ARGS: more flags for the cluster's brokers, e.g.
    # --nats_interest_window_ms=0 (every publish to NATS, as before).
    [[ $mode == cluster* ]] && extra+=(${BROKER_ARGS:-})
    "$build/broker/channel-broker" --listen=127.0.0.1 --port="$bp" --admin_port=-1 \
      --log_level=info "${extra[@]}" 2>"$tmp/broker$i.log" &
    all+=($!); pids+=($!)
    wait_log "$tmp/broker$i.log" "listening on"
    [[ $mode == cluster-history ]] && wait_log "$tmp/broker$i.log" "following from" 600
  done
  for i in 0 1; do
    local gp; gp=$(free_port)
    "$build/gateway/ws-gateway" --listen=127.0.0.1 --port="$gp" --admin_port=-1 --threads=1 \
      --broker="127.0.0.1:${bports[$((i % nb))]}" --log_level=info --rate_limit_per_sec=0 --rate_limit_bytes_per_sec=0 --max_pending_handshakes_per_source=0 \
      --max_queued_bytes=16777216 2>"$tmp/gw$i.log" &
    all+=($!); pids+=($!)
    wait_log "$tmp/gw$i.log" "broker link up"
    gws+=("ws://127.0.0.1:$gp")
  done
  echo -n "$mode $shape: "
  local targets=(--gateways="$(IFS=,; echo "${gws[*]}")")
  [[ $mode == cluster-one ]] && targets=(--gateways="${gws[0]}")
  [[ $mode == cluster-cross ]] && targets=(--gateways="${gws[0]}" --publisher_gateways="${gws[1]}")
  node tools/bench/harness/ws-harness.mjs "${targets[@]}" \
    --pids="$(IFS=,; echo "${all[*]}")" --shape="$shape" --settle_ms=1000 \
    ${MESSAGES:+--messages="$MESSAGES"}
  kill "${all[@]}"; wait "${all[@]}" 2>/dev/null || true
  pids=()
}
echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r)"
for shape in "${shapes[@]}"; do
  for mode in ${MODES:-standalone cluster}; do run "$mode" "$shape"; done
done
