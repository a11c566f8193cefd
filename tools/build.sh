#!/usr/bin/env bash
# Configures and builds everything (Release) into ./build. Idempotent and
# incremental. BUILD_DIR and CMAKE_ARGS override the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-} >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
