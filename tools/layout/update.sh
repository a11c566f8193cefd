#!/usr/bin/env bash
# Rewrites the programs' function order files (tools/layout/*.order; the
# link uses them: CHANNEL_FUNCTION_ORDER in CMakeLists.txt). Each daemon of
# BUILD_DIR (a release build) runs under valgrind's callgrind twice: once
# started and stopped with no traffic, once through the four shapes of
# tools/bench/ws-harness.sh (fan-out and routed, burst and paced; the other
# daemon runs natively). A file lists the functions the second run spent
# more in than the first (the traffic's), then those it ran only to start
# and stop, each part sorted by name: the linker lays out each part
# together, so the code a daemon runs stays on few pages and what only
# start-up touched on few others. Functions the runs never reached keep the
# linker's order, after them.
#
# Stale entries are harmless (a renamed function just falls among the
# unordered ones): re-run after large changes to the hot paths.
#
#   tools/layout/update.sh [BUILD_DIR]    # needs valgrind
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
. tools/bench/lib.sh
(cd tools/bench/harness && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

# run WHO OUT SHAPE...: the harness's broker and gateway (harness_pair),
# WHO (broker|gateway) under callgrind, through SHAPE... (none: start and
# stop).
run() {
  local who=$1 out=$2 shape
  shift 2
  local vg=(valgrind --tool=callgrind --dump-instr=no --compress-strings=no
            --demangle=no --callgrind-out-file="$out")
  broker_wrapper=() gateway_wrapper=()
  if [[ $who == broker ]]; then broker_wrapper=("${vg[@]}"); else gateway_wrapper=("${vg[@]}"); fi
  harness_pair "$build"
  for shape in "$@"; do
    node tools/bench/harness/ws-harness.mjs --gateways="ws://127.0.0.1:$gport" \
      --pids="$bpid,$gpid" --shape="$shape" --broker_port="$bport" >/dev/null
  done
  kill -TERM "$gpid"; wait "$gpid" || true
  kill -TERM "$bpid"; wait "$bpid" || true
  pids=()
}

for who in broker gateway; do
  run "$who" "$tmp/$who.idle"
  run "$who" "$tmp/$who.busy" fanout-burst fanout-paced routed-burst routed-paced
  program=channel-broker
  [[ $who == gateway ]] && program=ws-gateway
  python3 - "$tmp/$who.idle" "$tmp/$who.busy" "$program" \
    >"tools/layout/$program.order" <<'EOF'
import collections, re, sys

def costs(path, program):
    """Instructions per function of `program` (self cost) in a callgrind
    file written with --compress-strings=no --demangle=no."""
    out = collections.Counter()
    ob = fn = None
    skip_next = False
    for line in open(path):
        if line.startswith('ob='):
            ob = line[3:].strip()
        elif line.startswith('fn='):
            fn = line[3:].strip()
        elif line.startswith('calls='):
            skip_next = True  # the next cost line is the call's, inclusive
        elif re.match(r'^[+\-*]?\d', line):
            if skip_next:
                skip_next = False
                continue
            # Callgrind's names for code without a symbol ("0x...",
            # "(below main)") are no names the linker knows.
            if (fn and ob and ob.endswith('/' + program)
                    and not fn.startswith(('0x', '('))):
                parts = line.split()
                if len(parts) > 1:
                    out[fn] += int(parts[1])
    return out

idle, busy, program = sys.argv[1], sys.argv[2], sys.argv[3]
start = costs(idle, program)
run = costs(busy, program)
traffic = sorted(f for f, c in run.items() if c > start.get(f, 0))
rest = sorted((set(run) | set(start)) - set(traffic))
print('\n'.join(traffic + rest))
EOF
  echo "tools/layout/$program.order: $(wc -l <"tools/layout/$program.order") functions"
done
