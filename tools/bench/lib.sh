# Shared setup for the benchmark scripts; source it after `set -euo pipefail`.
# Provides: $tmp (a scratch directory removed on exit), pids (every PID in it
# is killed on exit; append what you start), free_port (a free loopback TCP
# port), wait_log FILE TEXT [TENTHS] (waits up to 10 s, or TENTHS/10 s, for TEXT to appear in FILE,
# else prints FILE and exits 1), nats_cluster NAME and harness_pair BUILD
# (below).
tmp=$(mktemp -d)
pids=()
cleanup() {
  ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_log() { for _ in $(seq "${3:-100}"); do grep -q "$2" "$1" && return 0; sleep 0.1; done; echo "no '$2' in $1" >&2; cat "$1" >&2; exit 1; }
# nats_cluster NAME [js]: starts 3 nats-server nodes on loopback, routed to
# each other (cluster NAME), with JetStream (a store under $tmp) when the
# second argument is "js", and waits for their routes. Sets nats_urls
# (client URLs) and nats_pids; logs in $tmp/nats<i>.log.
nats_cluster() {
  local name=$1 js=${2:-} c=() r=() i k routes extra
  nats_urls=() nats_pids=()
  for i in 0 1 2; do c+=("$(free_port)"); r+=("$(free_port)"); done
  for i in 0 1 2; do
    routes=()
    for k in 0 1 2; do [[ $k == "$i" ]] || routes+=("nats://127.0.0.1:${r[$k]}"); done
    extra=()
    [[ $js == js ]] && extra=(-n "$name$i" -js -sd "$tmp/js$i")
    nats-server -a 127.0.0.1 -p "${c[$i]}" --cluster_name "$name" -cluster "nats://127.0.0.1:${r[$i]}" \
      -routes "$(IFS=,; echo "${routes[*]}")" "${extra[@]}" 2>"$tmp/nats$i.log" &
    pids+=($!); nats_pids+=($!)
    nats_urls+=("nats://127.0.0.1:${c[$i]}")
  done
  for i in 0 1 2; do wait_log "$tmp/nats$i.log" "Route connection created"; done
}
# harness_pair BUILD: a broker and a one-worker ws-gateway linked to it on
# loopback, as tools/bench/ws-harness.sh measures them (rate limits off,
# CHANNEL_BENCH_BROKER_ARGS added to the broker), started through the
# commands in the arrays broker_wrapper and gateway_wrapper if set (e.g.
# valgrind). Waits for the gateway's broker link; sets bport, gport, bpid,
# gpid (both also in pids); logs in $tmp/broker.log and $tmp/gw.log.
harness_pair() {
  local build=$1
  bport=$(free_port); gport=$(free_port)
  ${broker_wrapper[@]+"${broker_wrapper[@]}"} "$build/broker/channel-broker" \
    --listen=127.0.0.1 --port="$bport" --admin_port=-1 \
    --log_level=warn ${CHANNEL_BENCH_BROKER_ARGS:-} 2>"$tmp/broker.log" &
  bpid=$!; pids+=("$bpid")
  ${gateway_wrapper[@]+"${gateway_wrapper[@]}"} "$build/gateway/ws-gateway" \
    --listen=127.0.0.1 --port="$gport" --admin_port=-1 \
    --threads=1 --broker="127.0.0.1:$bport" --log_level=info --rate_limit_per_sec=0 \
    --rate_limit_bytes_per_sec=0 --max_pending_handshakes_per_source=0 \
    --max_queued_bytes=16777216 2>"$tmp/gw.log" &
  gpid=$!; pids+=("$gpid")
  wait_log "$tmp/gw.log" "broker link up" 600
}
