#!/usr/bin/env bash
# Configures and builds (Release) into ./build. Idempotent and incremental.
#   tools/build.sh            everything: daemons, tools, tests, benchmarks
#   tools/build.sh --daemons  only what running the system needs
# BUILD_DIR and CMAKE_ARGS override the defaults. A unity build (eight files
# to a translation unit: half the compile time from scratch; README.md says
# what it asks of the code); CHANNEL_UNITY_BUILD=OFF compiles file by file,
# quicker when rebuilding after a small edit.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
unity=-DCMAKE_UNITY_BUILD=${CHANNEL_UNITY_BUILD:-ON}
if [[ "${1:-}" == "--daemons" ]]; then
  # Leaves an existing full configuration alone; builds only the daemons.
  [[ -f "$build_dir/CMakeCache.txt" ]] ||
    cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
      -DCHANNEL_BUILD_TESTS=OFF "$unity" ${CMAKE_ARGS:-} >/dev/null
  cmake --build "$build_dir" -j"$(nproc)" --target channel-broker channel-webhook-http ws-gateway channel-cli
else
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
    -DCHANNEL_BUILD_TESTS=ON "$unity" ${CMAKE_ARGS:-} >/dev/null
  cmake --build "$build_dir" -j"$(nproc)"
fi
