# Shared setup for the benchmark scripts; source it after `set -euo pipefail`.
# Provides: $tmp (a scratch directory removed on exit), pids (every PID in it
# is killed on exit; append what you start), free_port (a free loopback TCP
# port), wait_log FILE TEXT (waits up to 10 s for TEXT to appear in FILE,
# else prints FILE and exits 1).
tmp=$(mktemp -d)
pids=()
cleanup() {
  ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_log() { for _ in $(seq 100); do grep -q "$2" "$1" && return 0; sleep 0.1; done; echo "no '$2' in $1" >&2; cat "$1" >&2; exit 1; }
