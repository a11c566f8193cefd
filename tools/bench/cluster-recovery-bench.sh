#!/usr/bin/env bash
# A broker SIGKILLed under 1,000 clients of history groups in a cluster
# (issue 21, docs/BENCHMARKS.md): 3 nats-server nodes with JetStream, 2
# brokers with --history, the clients' gateway on broker 0 (then 1), a
# sender on broker 1 publishing M messages to each group, acknowledged,
# broker 0 SIGKILLed half way. Reports lost, duplicated and gap-notified
# messages per client and how long until every client had everything.
# Usage: tools/bench/cluster-recovery-bench.sh [BUILD_DIR] [CLIENTS] [PER_GROUP] [MESSAGES]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
ulimit -n "$(ulimit -Hn)"
(cd tools/bench/harness && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
node tools/bench/harness/cluster-recovery-bench.mjs --build="$build" \
  --clients="${2:-1000}" --per_group="${3:-10}" --messages="${4:-40}"
