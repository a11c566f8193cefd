#!/bin/sh
# Files made from a built binary's --help (deploy/CMakeLists.txt):
#   generate.sh manpage  BIN NAME SUMMARY VERSION OUT.1.gz   (help2man)
#   generate.sh defaults BIN NAME OUT [FLAG=VALUE ...]       (env-defaults.pl)
set -eu
here=$(dirname "$0")
what=$1 bin=$2 name=$3
shift 3
case "$what" in
  manpage)
    summary=$1 version=$2 out=$3
    # Abseil's --help names the source file of the flags ("Flags from
    # /path/main.cc:"): the page says "Flags:" instead of a build path.
    help2man --no-info --name="$summary" \
      --version-string="$version" "$bin" |
      sed -e 's/^Flags from .*main\.cc:$/Flags:/' | gzip -9n >"$out.tmp"
    mv "$out.tmp" "$out"
    ;;
  defaults)
    out=$1
    shift
    # Abseil's --help exits 1; the text is what matters.
    { "$bin" --help || true; } | perl "$here/env-defaults.pl" "$name" "$@" >"$out.tmp"
    mv "$out.tmp" "$out"
    ;;
  *) echo "generate.sh: unknown $what" >&2; exit 2 ;;
esac
