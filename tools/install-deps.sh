#!/usr/bin/env bash
# Installs every Debian 12 package that building, running and testing channel
# needs. Idempotent: packages already present are skipped, so a second run does
# nothing but check. The container build calls it with --build-only.
#
#   tools/install-deps.sh              build + test dependencies
#   tools/install-deps.sh --build-only just what compiling the daemons needs
#                                      (the container build, tools/run-local.sh)
set -euo pipefail

build_pkgs=(
  build-essential cmake pkg-config
  lld   # links the daemons in their function order (CHANNEL_FUNCTION_ORDER)
  libasio-dev libwebsocketpp-dev
  libprotobuf-dev protobuf-compiler
  libabsl-dev libspdlog-dev libfmt-dev rapidjson-dev libssl-dev
  libjwt-dev libcpp-httplib-dev libnats-dev
  help2man file   # man pages from --help; file: CPack finds the ELF files
)
test_pkgs=(
  libgtest-dev libgmock-dev libbenchmark-dev libhiredis-dev
  redis-server procps iproute2 curl ca-certificates chromium
  docker.io docker-compose debootstrap iptables
  clang libclang-rt-14-dev openssl clang-format clang-tidy
  php-cli nats-server lintian
)

want=("${build_pkgs[@]}")
if [[ "${1:-}" != "--build-only" ]]; then
  want+=("${test_pkgs[@]}")
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js drives the browser test. Some machines carry a nodesource nodejs that
# bundles npm and conflicts with Debian's npm package: only ask Debian for both
# when no node/npm is present at all.
if [[ "${1:-}" != "--build-only" ]] && ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "install-deps: all packages present" >&2
fi
