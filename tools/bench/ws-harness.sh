#!/usr/bin/env bash
# The external-harness benchmark (docs/BENCHMARKS.md): a broker and one
# ws-gateway with one thread started here on loopback (rate limit off), and
# Node `ws` clients (tools/bench/harness) in the four shapes. Server CPU is
# broker + gateway.
# Usage: tools/bench/ws-harness.sh [BUILD_DIR] [SHAPE...]
# CHANNEL_BENCH_BROKER_ARGS: more broker flags, e.g. --history=*:size=100.
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
. tools/bench/lib.sh

for shape in "${shapes[@]}"; do
  harness_pair "$build"
  node tools/bench/harness/ws-harness.mjs --gateways="ws://127.0.0.1:$gport" \
    --pids="$bpid,$gpid" --shape="$shape" --broker_port="$bport"
  kill "$bpid" "$gpid"; wait "$bpid" "$gpid" 2>/dev/null || true
  pids=()
done
