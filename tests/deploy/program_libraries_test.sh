#!/usr/bin/env bash
# The installed programs link only the C library (libc, libm, the loader):
# libstdc++, libgcc, fmt, spdlog, protobuf and Abseil are in the binaries
# (CHANNEL_STATIC_LIBSTDCXX and the static archives, CMakeLists.txt), and
# what a flag needs (libnats, OpenSSL, libjwt, the webhook module) is loaded
# when the flag is given. A shared C++ library named here again costs
# every daemon ~1.5 MB resident (docs/BENCHMARKS.md).
# Usage: program_libraries_test.sh PROGRAM...
set -euo pipefail
allowed='^(libc\.so\.6|libm\.so\.6|ld-linux-x86-64\.so\.2)$'
status=0
for program in "$@"; do
  needed=$(readelf -d "$program" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  [[ -n "$needed" ]] || { echo "FAIL: no NEEDED entries read from $program" >&2; exit 1; }
  while read -r soname; do
    if ! [[ "$soname" =~ $allowed ]]; then
      echo "FAIL: $(basename "$program") links $soname" >&2
      status=1
    fi
  done <<<"$needed"
  echo "$(basename "$program"): $(echo $needed)"
done
exit $status
