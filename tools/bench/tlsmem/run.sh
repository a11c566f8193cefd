#!/usr/bin/env bash
# Idle TLS session memory per library (server side heap, mallinfo2 deltas),
# N sessions on loopback, client in a separate OpenSSL process (not counted).
# Needs: apt-get install libssl-dev libgnutls28-dev libwolfssl-dev libmbedtls-dev
# Usage: tools/bench/tlsmem/run.sh [N] [OUT_DIR]     (default N=2000, /tmp/tlsmem)
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
n=${1:-2000}
out=${2:-/tmp/tlsmem}
mkdir -p "$out"
cd "$out"
ulimit -n "$(ulimit -Hn)"
[ -f cert.pem ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout key.pem -out cert.pem -days 3650 -subj /CN=localhost 2>/dev/null
cc="gcc -O2 -Wall -Wno-unused-function -I$src"
$cc -o tlsclient "$src/client.c" -lssl -lcrypto
$cc -o srv_openssl "$src/srv_openssl.c" -lssl -lcrypto
$cc -o srv_gnutls "$src/srv_gnutls.c" -lgnutls
$cc -o srv_wolfssl "$src/srv_wolfssl.c" -lwolfssl
$cc -o srv_mbedtls "$src/srv_mbedtls.c" -lmbedtls -lmbedx509 -lmbedcrypto
all=noticket,tickets0,readlen,pipelines1,sidctx,freebuf,certsclear,clientca
for v in 13 12; do
  for t in "" noticket tickets0 readlen pipelines1 sidctx freebuf certsclear clientca \
           swapctx chacha "$all" "$all,chacha" norelease norelease,freebuf; do
    ./srv_openssl "$n" "$v" "$t"
  done
  ./srv_openssl "$n" "$v" nosess || echo "openssl TLS1.$((v-10)) nosess: session unusable afterwards (see stderr)"
  ./srv_gnutls "$n" "$v"
  ./srv_gnutls "$n" "$v" notickets
  ./srv_wolfssl "$n" "$v"
  ./srv_wolfssl "$n" "$v" noticket,freearrays
done
./srv_mbedtls "$n" 12
