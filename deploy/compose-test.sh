#!/usr/bin/env bash
# CI test of the containerised path: builds the images, runs
# `docker-compose up -d` (broker + two gateways), checks that group messages
# cross from one gateway to the other and that the seed page works in
# headless Chromium against the second gateway, then `docker-compose down`.
# Then the same for docker-compose.cluster.yml (3 NATS nodes, 2 brokers, 2
# gateways on different brokers), messages crossing brokers both ways.
# Starts a Docker daemon (and makes the base image) when needed and cleans
# up what it started. Fails, with the reason, when Docker cannot run here.
#
#   deploy/compose-test.sh [BUILD_DIR]
#
# With BUILD_DIR (ctest passes its own), the images are made from the
# packages of that build (tools/package.sh into deploy/debs, emptied
# afterwards), as tested by tests/deploy/package_test.sh; without it the
# image build compiles them, as `docker-compose up` from a clean clone does.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/docker-env.sh
build_dir=${1:-}

export COMPOSE_PROJECT_NAME=channel-ci-$$
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
export CHANNEL_AUTH_TOKEN="ci-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
export CHANNEL_PUBLISH_ADDR=127.0.0.1
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
export CHANNEL_GATEWAY1_PORT=$(free_port) CHANNEL_GATEWAY2_PORT=$(free_port)

composed=
compose_file=docker-compose.yml
cleanup() {
  local rc=$?
  if [[ -n "$composed" ]]; then
    ((rc == 0)) || docker-compose -f "$compose_file" logs --tail=50 >&2 || true
    docker-compose -f "$compose_file" down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  docker_down
  [[ -z "$build_dir" ]] || rm -f deploy/debs/*.deb
  exit "$rc"
}
trap cleanup EXIT

if [[ -n "$build_dir" ]]; then
  echo "compose-test: packaging $build_dir into deploy/debs" >&2
  BUILD_DIR=$build_dir tools/package.sh deploy/debs >/dev/null
fi
docker_up
base_image_up
echo "compose-test: building images" >&2
docker-compose build >/tmp/channel-compose-build.log 2>&1 ||
  { tail -n 40 /tmp/channel-compose-build.log >&2; exit 1; }
composed=1
docker-compose up -d >&2

# Waits until the services report healthy (their HEALTHCHECKs).
wait_healthy() {
  local deadline=$((SECONDS + 90)) service id
  for service in "$@"; do
    id=$(docker-compose -f "$compose_file" ps -q "$service")
    until [[ "$(docker inspect -f '{{.State.Health.Status}}' "$id")" == healthy ]]; do
      ((SECONDS < deadline)) || { echo "compose-test: $service never became healthy" >&2; exit 1; }
      sleep 1
    done
  done
  echo "compose-test: $* healthy" >&2
}
wait_healthy broker gateway1 gateway2

node --experimental-websocket --no-warnings tests/deploy/cross_gateway.mjs \
  "ws://127.0.0.1:$CHANNEL_GATEWAY1_PORT" "ws://127.0.0.1:$CHANNEL_GATEWAY2_PORT"
node tests/browser/seed_test.mjs --gateway-port="$CHANNEL_GATEWAY2_PORT"

# The token reached the broker: a client without it is refused.
if docker-compose exec -T broker channel-cli --broker=127.0.0.1:2206 --auth_token= \
     --timeout_ms=3000 publish x y >/dev/null 2>&1; then
  echo "compose-test: the broker accepted a client without the token" >&2; exit 1
fi
docker-compose down -v --remove-orphans >/dev/null 2>&1
composed=

# The cluster file: gateway1 on broker1, gateway2 on broker2, NATS between.
compose_file=docker-compose.cluster.yml
echo "compose-test: building the NATS image" >&2
docker-compose -f "$compose_file" build nats1 >/tmp/channel-compose-build.log 2>&1 ||
  { tail -n 40 /tmp/channel-compose-build.log >&2; exit 1; }
composed=1
docker-compose -f "$compose_file" up -d >&2
wait_healthy broker1 broker2 gateway1 gateway2
node --experimental-websocket --no-warnings tests/deploy/cross_gateway.mjs \
  "ws://127.0.0.1:$CHANNEL_GATEWAY1_PORT" "ws://127.0.0.1:$CHANNEL_GATEWAY2_PORT"
node --experimental-websocket --no-warnings tests/deploy/cross_gateway.mjs \
  "ws://127.0.0.1:$CHANNEL_GATEWAY2_PORT" "ws://127.0.0.1:$CHANNEL_GATEWAY1_PORT"
echo "compose-test: ok" >&2
