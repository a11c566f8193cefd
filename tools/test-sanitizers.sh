#!/usr/bin/env bash
# Sanitizer runs (part of tools/test-all.sh):
#   build-asan: ASan + UBSan, the whole test suite (except the compose and
#               package tests, which package a release build)
#   build-tsan: TSan, the multi-threaded integration tests (gateways run
#               several worker threads; the test clients run their own;
#               cluster brokers get libnats' callbacks on its threads; the
#               broker's API hands work between its loop and the broker's:
#               broker_api_test; the application events: AppEvents*).
#               The HTTP API and webhook tests are left to ASan+UBSan (their
#               cpp-httplib clients and servers are uninstrumented).
# Every finding is fatal (-fno-sanitize-recover=all) and a daemon's report
# fails the test that ran it. No suppressions.
# Both builds are unity builds (CMAKE_UNITY_BUILD: a target's sources
# compiled 8 to a translation unit, so Asio, Abseil and protobuf headers are
# parsed and their templates instantiated once per batch; names in
# anonymous namespaces must differ between a target's files), at -O1 with
# line tables only (-g1): what sanitizer reports need (function, file,
# line). The benchmarks are left out (no test runs them). Together about
# half the compile time of RelWithDebInfo one file at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
sanitizer_build=(-DCMAKE_BUILD_TYPE=RelWithDebInfo
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
  -DCHANNEL_BUILD_BENCHMARKS=OFF -DCMAKE_UNITY_BUILD=ON)

echo "== ASan + UBSan: building" >&2
cmake -S . -B build-asan "${sanitizer_build[@]}" \
  -DCHANNEL_SANITIZE=address,undefined >/dev/null
cmake --build build-asan -j"$jobs" >/dev/null
echo "== ASan + UBSan: every test" >&2
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 \
  ctest --output-on-failure -j"$jobs" --timeout 300 -E 'deploy_compose|deploy_packages')

echo "== TSan: building" >&2
cmake -S . -B build-tsan "${sanitizer_build[@]}" \
  -DCHANNEL_SANITIZE=thread >/dev/null
cmake --build build-tsan -j"$jobs" --target channel-broker ws-gateway ws-loadgen \
  broker_integration_test gateway_integration_test broker_api_test >/dev/null
echo "== TSan: multi-threaded integration tests" >&2
(cd build-tsan && ctest --output-on-failure -j"$jobs" --timeout 300 \
  -R '^(Broker|Gateway|Cluster|ApiServer|AppEvents|PresenceMembers|PresenceRestart)[A-Za-z]*Test\.|^Inputs/(Broker|Gateway)')
