#!/usr/bin/env bash
# Recovery after a gateway restart (issue 21, docs/BENCHMARKS.md): a broker
# with history and one gateway started here on loopback; N clients (Node
# `ws`, JSON framing) each in a group of its own; the gateway is SIGKILLed,
# M messages per group are published through a second gateway, the first
# gateway is started again on its port, and every client comes back with
# since: the time until each has its M messages, and the broker's CPU for it.
# Usage: tools/bench/recovery-bench.sh [BUILD_DIR] [CLIENTS] [MISSED]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
clients=${2:-1000}
missed=${3:-100}
ulimit -n "$(ulimit -Hn)"
(cd tools/bench/harness && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
node tools/bench/harness/recovery-bench.mjs --build="$build" \
  --clients="$clients" --missed="$missed"
