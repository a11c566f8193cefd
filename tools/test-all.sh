#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit, integration
# (real daemons on loopback), the headless-Chromium seed test, and the
# deployment tests (Kubernetes schemas and drift, network namespaces,
# docker-compose with a Docker daemon started here if none runs).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
for dir in tests/browser tests/deploy; do
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
done
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j"$(nproc)" --timeout 300
