#!/usr/bin/env bash
# Installs what is missing, builds, and runs the system on this machine:
# one channel-broker and two ws-gateways, in the foreground. Ctrl-C (or
# SIGTERM) stops all three gracefully.
#
#   broker     127.0.0.1:2206   admin http://127.0.0.1:2207/metrics
#   gateway 1  ws://HOST:1234   admin http://127.0.0.1:9234/metrics
#   gateway 2  ws://HOST:1235   admin http://127.0.0.1:9235/metrics
#
# The broker listens on loopback only (both gateways are local); the
# gateways on all interfaces. Set CHANNEL_AUTH_TOKEN to require a token
# between gateways and broker. Logs go to ./run/*.log.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh --build-only
tools/build.sh --daemons

bin=build
mkdir -p run
pids=()
stop() {
  trap - INT TERM EXIT
  if ((${#pids[@]})); then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
}
trap stop INT TERM EXIT

wait_for() {  # wait_for LOGFILE PATTERN: until the daemon logs PATTERN
  local deadline=$((SECONDS + 15))
  until grep -q "$2" "$1" 2>/dev/null; do
    if ((SECONDS > deadline)); then
      echo "run-local: timed out waiting for '$2' in $1:" >&2
      tail -n 20 "$1" >&2
      exit 1
    fi
    sleep 0.1
  done
}

"$bin/broker/channel-broker" --listen=127.0.0.1 --port=2206 \
  --admin_listen=127.0.0.1 --admin_port=2207 2>run/broker.log &
pids+=($!)
wait_for run/broker.log "listening on"

for n in 1 2; do
  port=$((1233 + n))
  "$bin/gateway/ws-gateway" --port="$port" --admin_listen=127.0.0.1 \
    --admin_port=$((9233 + n)) --broker=127.0.0.1:2206 \
    2>"run/gateway$n.log" &
  pids+=($!)
  wait_for "run/gateway$n.log" "broker link up"
done

cat <<TXT

channel is running (logs in run/):
  open http://127.0.0.1:1234/   (demo chat; a second tab on :1235 chats across gateways)
  WebSocket   ws://127.0.0.1:1234   ws://127.0.0.1:1235
  try         {"cmd":"add_group","group_id":"123"}
              {"cmd":"send_to_group","group_id":"123","message":"hi"}
  metrics     http://127.0.0.1:2207/metrics  (broker)
              http://127.0.0.1:9234/metrics  http://127.0.0.1:9235/metrics
  cli         build/tools/channel-cli subscribe group:123
Press Ctrl-C to stop.
TXT
wait -n "${pids[@]}"
echo "run-local: a daemon exited; stopping the others" >&2
