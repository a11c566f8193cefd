#!/usr/bin/env bash
# Style and static checks, run by tools/test-all.sh (and so by CI):
#  - clang-format (Google style, .clang-format) over every C++ file: any
#    file that would change fails, with the diff printed;
#  - clang-tidy (.clang-tidy) over the project's own translation units,
#    using the build's compile_commands.json;
#  - no absl::Mutex: Debian's Abseil is built without TSan's annotations,
#    so TSan cannot see its ordering and reports races that are not there
#    (std::mutex is intercepted).
# Usage: tools/lint.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
mapfile -t files < <(git ls-files '*.cc' '*.h' | grep -v '^tests/fuzz/corpus/')
status=0
for f in "${files[@]}"; do
  if ! clang-format --style=file "$f" | diff -u "$f" - >/dev/null; then
    echo "lint: $f is not clang-formatted:" >&2
    clang-format --style=file "$f" | diff -u "$f" - | head -40 >&2 || true
    status=1
  fi
done
if git grep -n 'absl::Mutex\|absl/synchronization/mutex.h' -- '*.cc' '*.h' >&2; then
  echo "lint: use std::mutex, not absl::Mutex (TSan cannot see it here)" >&2
  status=1
fi
# A third-party library's headers only in the room that wraps it
# (docs/ARCHITECTURE.md "Rooms"): the daemons load libnats, OpenSSL and
# libjwt on demand through those rooms, and websocketpp costs ~15 s per
# translation unit. Tests and tools may use them.
check_room() {  # PATTERN ALLOWED_PATHS_REGEX
  local bad
  bad=$(git grep -l "#include [<\"]$1" -- 'broker/*' 'gateway/*' 'common/*' \
    'net/*' 'client/*' | grep -Ev "$2" || true)
  if [[ -n "$bad" ]]; then
    echo "lint: $1 headers outside their room ($2): $bad" >&2
    status=1
  fi
}
check_room 'nats/' '^broker/cluster/'
check_room 'websocketpp/' '^(gateway/ws/|net/http_)'
check_room 'openssl/' '^(gateway/tls/|gateway/auth/|broker/app/webhook_poster_httplib\.cc)'
check_room 'jwt\.h' '^gateway/auth/'
# clang-tidy over the daemons' and libraries' sources (tests and fuzz
# targets are left to the compilers' warnings and the sanitizers). A unity
# build's compile_commands.json names its batches, not the files: clang-tidy
# reads a file-at-a-time configuration of its own in $build/lint-db
# (configured, and only the protobuf headers generated: ~20 s).
db="$build/lint-db"
cmake -S . -B "$db" -DCMAKE_BUILD_TYPE=Release -DCMAKE_UNITY_BUILD=OFF >/dev/null
cmake --build "$db" --target channel_proto >/dev/null
mapfile -t sources < <(git ls-files 'broker/*.cc' 'client/*.cc' 'common/*.cc' \
  'common/**/*.cc' 'gateway/*.cc' 'net/*.cc' 'tools/*.cc')
if ! run-clang-tidy -quiet -p "$db" -j "$(nproc)" "${sources[@]}" \
    >"$build/clang-tidy.log" 2>&1; then
  grep -E "(error|warning):" "$build/clang-tidy.log" | sort -u | head -50 >&2
  echo "lint: clang-tidy found problems (full log: $build/clang-tidy.log)" >&2
  status=1
fi
exit $status
