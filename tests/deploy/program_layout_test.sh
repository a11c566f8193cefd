#!/usr/bin/env bash
# The daemons are linked in their function order (CHANNEL_FUNCTION_ORDER,
# tools/layout/*.order): the functions an order file lists sit together at
# the start of the program's .text, so the code a daemon runs stays on few
# pages (docs/BENCHMARKS.md "Function order"). Linked in the default order
# they are spread over the whole of it.
# Usage: program_layout_test.sh ORDER_DIR PROGRAM...
set -euo pipefail
order_dir=$1
shift
status=0
for program in "$@"; do
  name=$(basename "$program")
  order="$order_dir/$name.order"
  [[ -f "$order" ]] || { echo "FAIL: no $order" >&2; exit 1; }
  text=$(readelf -SW "$program" | awk '$2 == ".text" { print $4, $6 }')
  [[ -n "$text" ]] || { echo "FAIL: no .text in $program" >&2; exit 1; }
  # Of the listed functions the program has, the share in .text's first 40 %.
  share=$(nm "$program" | python3 -c '
import sys
start, size = (int(x, 16) for x in sys.argv[2].split())
listed = set(open(sys.argv[1]).read().split())
n = front = 0
for line in sys.stdin:
    f = line.split()
    if len(f) != 3 or f[1] not in "tTwW" or f[2] not in listed:
        continue
    a = int(f[0], 16)
    if start <= a < start + size:
        n += 1
        front += a < start + 0.4 * size
print("few %d" % n if n < 100 else "%.2f" % (front / n))
' "$order" "$text")
  echo "$name: share of its listed functions in the first 40 % of .text: $share"
  if [[ "$share" == few* ]] || python3 -c "import sys; sys.exit(not float('$share') < 0.9)"; then
    echo "FAIL: $name is not linked in the order of $order" >&2
    status=1
  fi
done
exit $status
