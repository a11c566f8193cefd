#!/usr/bin/env bash
# Builds and runs one libFuzzer target for SECONDS seconds, starting from its
# seed corpus in tests/fuzz/corpus/TARGET (new inputs go to a scratch
# directory, crashes to build-fuzz/crashes/). SECONDS=0 only replays the
# corpus.
#
#   tools/fuzz.sh broker_frames_fuzzer 600
#   tools/fuzz.sh all 30          every target, as many at once as there are cores
set -euo pipefail
failed=()
declare -a waited=()
cd "$(dirname "$0")/.."
target=${1:?usage: tools/fuzz.sh TARGET|all SECONDS}
seconds=${2:-60}
build=${FUZZ_BUILD_DIR:-build-fuzz}
targets=(app_action_fuzzer broker_frames_fuzzer gateway_command_fuzzer client_events_fuzzer php_serialize_fuzzer api_request_fuzzer ws_connection_fuzzer http_connection_fuzzer webhook_url_fuzzer)
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
# One target: its log in $build/TARGET.log; fails with the log's tail.
run_one() {
  local t=$1 corpus=tests/fuzz/corpus/$1 work log
  work=$(mktemp -d)
  log="$build/$t.log"
  local args=(-artifact_prefix="$build/crashes/$t-" -rss_limit_mb=2048 -max_len=65536)
  if ((seconds == 0)); then
    args+=(-runs=0 "$corpus")
  else
    args+=(-max_total_time="$seconds" -print_final_stats=1 "$work" "$corpus")
  fi
  if ! "$build/tests/fuzz/$t" "${args[@]}" >"$log" 2>&1; then
    rm -rf "$work"
    return 1
  fi
  rm -rf "$work"
}

# As many targets at once as there are cores (each fuzzer is one process
# on one core); reported in order once each has ended.
jobs=$(nproc)
pids=()
for i in "${!targets[@]}"; do
  t=${targets[$i]}
  echo "fuzz: $t for ${seconds}s (seeds: $(ls "tests/fuzz/corpus/$t" | wc -l))" >&2
  run_one "$t" &
  pids[$i]=$!
  # Keep at most $jobs running: wait for the oldest still unwaited.
  if ((i + 1 >= jobs)); then
    oldest=$((i + 1 - jobs))
    wait "${pids[$oldest]}" || failed+=("${targets[$oldest]}")
    waited[$oldest]=1
  fi
done
for i in "${!targets[@]}"; do
  [[ -n "${waited[$i]:-}" ]] && continue
  wait "${pids[$i]}" || failed+=("${targets[$i]}")
done
for t in "${targets[@]}"; do
  grep -E "^(Done|stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb)|cov:.*DONE" "$build/$t.log" | tail -n 4 | sed "s/^/$t: /" || true
done
if ((${#failed[@]})); then
  for t in "${failed[@]}"; do
    tail -n 40 "$build/$t.log" >&2
    echo "fuzz: $t FAILED; the input is in $build/crashes/" >&2
  done
  exit 1
fi
