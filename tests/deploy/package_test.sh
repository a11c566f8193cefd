#!/usr/bin/env bash
# CI test of the Debian packages (issue: install like a Debian service):
#
#   1. tools/package.sh makes channel-broker, ws-gateway and channel-cli
#      from BUILD_DIR; lintian finds no error, and every warning is one the
#      packaging README (deploy/debian/README.md) lists and justifies;
#      each package Depends on the package of every library its binaries
#      load (dpkg-shlibdeps at work).
#   2. In a clean Debian 12 root (the debootstrap image the compose test
#      uses, as a container on the host network): apt-get install ./*.deb
#      resolves the rest from Debian; files, the channel user, the units
#      (systemd-analyze verify and security) and --version are checked.
#   3. The operator's edit (free loopback ports, a webhook), then broker
#      and gateway started as their units say; the seed exchange passes
#      through the gateway (tests/deploy/cross_gateway.mjs).
#   4. Upgrade to a rebuilt package (the same files, a higher version and
#      changed conffiles): the operator's edits are kept, the daemons start
#      again; then remove (conffiles and user stay) and purge (nothing left).
#
#   package_test.sh REPO_DIR BUILD_DIR
set -euo pipefail
repo=$(realpath "${1:?usage: package_test.sh REPO_DIR BUILD_DIR}")
build=$(realpath "${2:?usage: package_test.sh REPO_DIR BUILD_DIR}")
cd "$repo"
source deploy/docker-env.sh

work=$(mktemp -d /tmp/channel-package-test.XXXXXX)
container=channel-package-test-$$
started=
cleanup() {
  local rc=$?
  if [[ -n "$started" ]]; then
    ((rc == 0)) || docker exec "$container" bash /test/package_inside.sh log >&2 || true
    docker rm -f "$container" >/dev/null 2>&1 || true
  fi
  docker_down
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
fail() { echo "package test: $*" >&2; exit 1; }

# --- 1. the packages, lintian, Depends ---
BUILD_DIR=$build tools/package.sh "$work/v1" >/dev/null
lintian --pedantic "$work"/v1/*.deb >"$work/lintian.txt" 2>&1 || true
if grep -E '^E: ' "$work/lintian.txt"; then fail "lintian errors (above)"; fi
justified=$(grep -oE '^- `[a-z0-9-]+`' deploy/debian/README.md | sed -E 's/^- `(.*)`$/\1/' | sort -u)
while read -r tag; do
  grep -qx "$tag" <<<"$justified" ||
    fail "lintian warning $tag is not listed and justified in deploy/debian/README.md: $(grep -m1 " $tag" "$work/lintian.txt")"
done < <(awk '/^W: / {print $3}' "$work/lintian.txt" | sort -u)
# The package that owns a library (merged /usr: dpkg knows one of the
# paths /lib/..., /usr/lib/... and the file's real path).
owner() {
  local p
  for p in "$1" "$(realpath "$1")" "${1#/usr}" "/usr$1"; do
    dpkg -S "$p" 2>/dev/null | head -n 1 | cut -d: -f1 | grep . && return
  done
  true
}
# The libraries an ELF file names itself (NEEDED; what dpkg-shlibdeps
# reads), as the paths ldd resolves them to.
needed_paths() {
  local soname resolved
  resolved=$(ldd "$1")
  for soname in $(readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    awk -v s="$soname" '$1 == s && $2 == "=>" {print $3}' <<<"$resolved" | grep . ||
      fail "ldd does not resolve $soname for $1"
  done
}
for deb in "$work"/v1/*.deb; do
  name=$(dpkg-deb -f "$deb" Package)
  depends=$(dpkg-deb -f "$deb" Depends)
  depends_names=$(tr ',' '\n' <<<"$depends" | awk '{print $1}')
  dpkg-deb -x "$deb" "$work/x-$name"
  while read -r elf; do
    while read -r lib; do
      pkg=$(owner "$lib")
      [[ -n "$pkg" ]] || fail "$name: no Debian package owns $lib (loaded by $elf)"
      grep -qxF "$pkg" <<<"$depends_names" ||
        fail "$name: Depends lacks $pkg ($lib, loaded by ${elf#"$work/"}): $depends"
    done < <(needed_paths "$elf")
  done < <(find "$work/x-$name" -type f \( -name '*.so' -o -perm -u+x \) -exec sh -c 'head -c4 "$1" | grep -q ELF' _ {} \; -print)
done
echo "package test: packages built; lintian and Depends checked" >&2

# The rebuilt package: the same files, version +1, each settings file
# changed (a new comment), so that dpkg must choose between the package's
# conffile and the operator's.
mkdir -p "$work/v2"
for deb in "$work"/v1/*.deb; do
  name=$(dpkg-deb -f "$deb" Package)
  version=$(dpkg-deb -f "$deb" Version)
  root=$work/r-$name
  dpkg-deb -R "$deb" "$root"
  sed -i "s/^Version: .*/Version: $version+upgrade1/" "$root/DEBIAN/control"
  if [[ -f "$root/etc/default/$name" ]]; then
    echo "# (upgrade test: the package's settings file changed)" >>"$root/etc/default/$name"
    (cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum >DEBIAN/md5sums)
  fi
  dpkg-deb --root-owner-group -b "$root" "$work/v2/${name}_$version+upgrade1_$(dpkg-deb -f "$deb" Architecture).deb" >/dev/null
done

# --- 2. a clean Debian 12 root ---
docker_up
base_image_up
cp tests/deploy/package_inside.sh "$work/"
docker run -d --name "$container" --network host \
  -v "$work:/test:ro" debian:bookworm-slim sleep infinity >/dev/null
started=1
inside() { docker exec "$container" bash /test/package_inside.sh "$@"; }
inside prepare
inside install /test/v1

# --- 3. configured, started, the seed exchange ---
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
broker_port=$(free_port) broker_admin=$(free_port) gateway_port=$(free_port) gateway_admin=$(free_port)
inside configure "$broker_port" "$broker_admin" "$gateway_port" "$gateway_admin"
run_and_exchange() {
  inside start
  local port deadline=$((SECONDS + 60))
  for port in "$broker_admin" "$gateway_admin"; do
    until [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" == 200 ]]; do
      ((SECONDS < deadline)) || fail "the daemon with admin port $port never became ready"
      sleep 0.2
    done
  done
  node --experimental-websocket --no-warnings tests/deploy/cross_gateway.mjs \
    "ws://127.0.0.1:$gateway_port" "ws://127.0.0.1:$gateway_port"
  docker exec "$container" channel-cli --broker="127.0.0.1:$broker_port" --timeout_ms=5000 \
    publish-group package-test hello >/dev/null || fail "channel-cli could not publish"
  inside stop
}
run_and_exchange

# --- 4. upgrade, remove, purge ---
inside upgrade /test/v2
run_and_exchange
inside remove
inside purge
echo "package test: ok" >&2
