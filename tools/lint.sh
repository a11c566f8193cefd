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
# clang-tidy over the daemons' and libraries' sources (tests and fuzz
# targets are left to the compilers' warnings and the sanitizers).
mapfile -t sources < <(git ls-files 'broker/*.cc' 'client/*.cc' 'common/*.cc' \
  'common/**/*.cc' 'gateway/*.cc' 'net/*.cc' 'tools/*.cc')
if ! run-clang-tidy -quiet -p "$build" -j "$(nproc)" "${sources[@]}" \
    >"$build/clang-tidy.log" 2>&1; then
  grep -E "(error|warning):" "$build/clang-tidy.log" | sort -u | head -50 >&2
  echo "lint: clang-tidy found problems (full log: $build/clang-tidy.log)" >&2
  status=1
fi
exit $status
