#!/usr/bin/env bash
# Builds and runs one libFuzzer target for SECONDS seconds, starting from its
# seed corpus in tests/fuzz/corpus/TARGET (new inputs go to a scratch
# directory, crashes to build-fuzz/crashes/). SECONDS=0 only replays the
# corpus.
#
#   tools/fuzz.sh broker_frames_fuzzer 600
#   tools/fuzz.sh all 30          every target in turn
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: tools/fuzz.sh TARGET|all SECONDS}
seconds=${2:-60}
build=${FUZZ_BUILD_DIR:-build-fuzz}
targets=(app_action_fuzzer broker_frames_fuzzer gateway_command_fuzzer client_events_fuzzer php_serialize_fuzzer api_request_fuzzer ws_connection_fuzzer http_connection_fuzzer)
[[ "$target" == all ]] || targets=("$target")

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  # -O1 with line tables only (what a crash report needs), as a unity
  # build (tools/test-sanitizers.sh says why): compiled in about half the time.
  CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" -DCMAKE_UNITY_BUILD=ON \
    -DCHANNEL_BUILD_TESTS=OFF -DCHANNEL_FUZZ=ON -DCHANNEL_SANITIZE=address,undefined >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" >/dev/null

mkdir -p "$build/crashes"
for t in "${targets[@]}"; do
  corpus=tests/fuzz/corpus/$t
  work=$(mktemp -d)
  echo "fuzz: $t for ${seconds}s (seeds: $(ls "$corpus" | wc -l))" >&2
  log="$build/$t.log"
  args=(-artifact_prefix="$build/crashes/$t-" -rss_limit_mb=2048 -max_len=65536)
  if ((seconds == 0)); then
    args+=(-runs=0 "$corpus")
  else
    args+=(-max_total_time="$seconds" -print_final_stats=1 "$work" "$corpus")
  fi
  if ! "$build/tests/fuzz/$t" "${args[@]}" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz: $t FAILED; the input is in $build/crashes/" >&2
    rm -rf "$work"
    exit 1
  fi
  grep -E "^(Done|stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb)|cov:.*DONE" "$log" | tail -n 4
  rm -rf "$work"
done
