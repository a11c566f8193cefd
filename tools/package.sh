#!/usr/bin/env bash
# Builds the Debian packages channel-broker, ws-gateway and channel-cli
# (CPack's DEB generator, deploy/CMakeLists.txt) from the build tree into
# OUT_DIR (default build/packages):
#
#   tools/package.sh [OUT_DIR]
#
# Uses BUILD_DIR (default build) as it is, configuring it (daemons only)
# when it does not exist, so the packages hold the binaries the tests ran.
# Install them with: apt-get install ./OUT_DIR/*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
out_dir=$(realpath -m "${1:-$build_dir/packages}")
for tool in dpkg-shlibdeps help2man; do
  command -v "$tool" >/dev/null ||
    { echo "package: $tool is missing (tools/install-deps.sh --build-only installs it)" >&2; exit 1; }
done
[[ -f "$build_dir/CMakeCache.txt" ]] ||
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DCHANNEL_BUILD_TESTS=OFF \
    ${CMAKE_ARGS:-} >/dev/null
if grep -qE '^CHANNEL_(SANITIZE:STRING=.+|FUZZ:BOOL=ON)' "$build_dir/CMakeCache.txt"; then
  echo "package: $build_dir is a sanitizer or fuzzing build; package a release build" >&2
  exit 1
fi
cmake --build "$build_dir" -j"$(nproc)" --target channel-broker channel-webhook-http \
  ws-gateway channel-cli channel-install-files
mkdir -p "$out_dir"
rm -f "$out_dir"/*.deb
# CPack's staging area stays in the build tree; only the .deb files land in
# OUT_DIR.
if ! (cd "$build_dir" && cpack -G DEB -B "$PWD/_packages" >_packages.log 2>&1); then
  tail -n 30 "$build_dir/_packages.log" >&2
  echo "package: cpack failed (whole log: $build_dir/_packages.log)" >&2
  exit 1
fi
mv "$build_dir"/_packages/*.deb "$out_dir"/
ls -1 "$out_dir"/*.deb
