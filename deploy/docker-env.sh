#!/usr/bin/env bash
# Sourced by the deploy tests: a Docker daemon and the debian:bookworm-slim
# base image, made here when missing (no image registry is reachable).
#
#   docker_up      use a running daemon, or start dockerd by hand
#   base_image_up  debootstrap + docker import debian:bookworm-slim if absent
#   docker_down    stop the daemon this script started (by PID) and remove
#                  the docker0 bridge and DOCKER iptables chains it left
#
# The daemon's data root persists in $CHANNEL_DOCKER_ROOT (default
# /var/lib/channel-docker) so the base image and the build cache are reused.

CHANNEL_DOCKER_ROOT=${CHANNEL_DOCKER_ROOT:-/var/lib/channel-docker}
CHANNEL_DOCKER_RUN=${CHANNEL_DOCKER_RUN:-/run/channel-docker}
_started_dockerd_pid=

docker_fail() { echo "docker-env: $*" >&2; exit 1; }

docker_up() {
  if [[ -n "${DOCKER_HOST:-}" ]] && docker info >/dev/null 2>&1; then
    echo "docker-env: using the daemon at $DOCKER_HOST" >&2
    return
  fi
  if [[ -z "${DOCKER_HOST:-}" ]] && docker info >/dev/null 2>&1; then
    echo "docker-env: using the running default daemon" >&2
    return
  fi
  command -v dockerd >/dev/null ||
    docker_fail "dockerd is not installed (apt-get install docker.io)"
  mkdir -p "$CHANNEL_DOCKER_ROOT" "$CHANNEL_DOCKER_RUN/exec"
  export DOCKER_HOST="unix://$CHANNEL_DOCKER_RUN/docker.sock"
  if docker info >/dev/null 2>&1; then
    echo "docker-env: reusing dockerd at $DOCKER_HOST" >&2
    return
  fi
  dockerd --data-root "$CHANNEL_DOCKER_ROOT" --exec-root "$CHANNEL_DOCKER_RUN/exec" \
    --pidfile "$CHANNEL_DOCKER_RUN/dockerd.pid" --host "$DOCKER_HOST" \
    >"$CHANNEL_DOCKER_RUN/dockerd.log" 2>&1 &
  _started_dockerd_pid=$!
  local deadline=$((SECONDS + 60))
  until docker info >/dev/null 2>&1; do
    if ! kill -0 "$_started_dockerd_pid" 2>/dev/null || ((SECONDS > deadline)); then
      tail -n 20 "$CHANNEL_DOCKER_RUN/dockerd.log" >&2
      _started_dockerd_pid=
      docker_fail "the Docker daemon could not start (log above); the deploy test cannot run here"
    fi
    sleep 0.5
  done
  echo "docker-env: started dockerd (pid $_started_dockerd_pid) at $DOCKER_HOST" >&2
}

base_image_up() {
  if docker image inspect debian:bookworm-slim >/dev/null 2>&1; then return; fi
  command -v debootstrap >/dev/null ||
    docker_fail "debootstrap is not installed (apt-get install debootstrap)"
  local mirror
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
  [[ -n "$mirror" ]] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  [[ -n "$mirror" ]] || mirror=http://deb.debian.org/debian
  local dir
  dir=$(mktemp -d)
  echo "docker-env: making debian:bookworm-slim with debootstrap from $mirror" >&2
  debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$dir.log" 2>&1 ||
    { tail -n 20 "$dir.log" >&2; rm -rf "$dir" "$dir.log"; docker_fail "debootstrap failed"; }
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar -C "$dir" -c . | docker import - debian:bookworm-slim >/dev/null
  rm -rf "$dir" "$dir.log"
}

docker_down() {
  [[ -n "$_started_dockerd_pid" ]] || return 0
  kill "$_started_dockerd_pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$_started_dockerd_pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.2
  done
  kill -9 "$_started_dockerd_pid" 2>/dev/null || true
  _started_dockerd_pid=
  # What a hand-started dockerd leaves behind: the docker0 bridge and its
  # iptables chains and rules (only those naming docker0 or DOCKER).
  ip link delete docker0 2>/dev/null || true
  local table
  for table in filter nat; do
    if iptables-save -t "$table" 2>/dev/null | grep -qE 'docker0|DOCKER'; then
      iptables-save -t "$table" | grep -vE 'docker0|DOCKER' | iptables-restore -T "$table" 2>/dev/null || true
    fi
  done
}
