#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit, integration
# (real daemons on loopback) and the headless-Chromium seed test.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j"$(nproc)" --timeout 300
