#!/usr/bin/env bash
# Installs what is missing, builds, runs the style and static checks
# (tools/lint.sh), then every test: unit, integration
# (real daemons on loopback), the headless-Chromium seed test, the
# deployment tests (Kubernetes schemas and drift, network namespaces,
# docker-compose with a Docker daemon started here if none runs), then the
# ASan+UBSan and TSan builds (tools/test-sanitizers.sh) and the fuzz targets
# (corpus replay then a short fuzzing run each, tools/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
for dir in tests/browser tests/deploy clients/js; do
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
done
tools/lint.sh "${BUILD_DIR:-build}"   # clang-format and clang-tidy
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure -j"$(nproc)" --timeout 300)
tools/test-sanitizers.sh
# Each target first runs its whole seed corpus (a crash there fails), then
# fuzzes for 20 s; as many targets at once as there are cores.
tools/fuzz.sh all 20
