#!/bin/bash
# Container health check: GET /readyz on the admin port, healthy on 200.
# Usage: channel-healthcheck DEFAULT_PORT (CHANNEL_ADMIN_PORT overrides it).
# Uses bash's /dev/tcp so the runtime image needs no curl.
port=${CHANNEL_ADMIN_PORT:-$1}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS= read -r -t 3 status <&3 || exit 1
[[ "$status" == *" 200 "* ]]
