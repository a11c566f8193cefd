/* tlsclient: opens N TLS connections to 127.0.0.1:PORT (OpenSSL, blocking),
 * each: handshake, send "ping", read "pong", keep open.  Runs in its own
 * process so its memory is never counted by the server's mallinfo2().
 * Then reads command lines from stdin:
 *   "P\n" -> on every connection: send "ping2", read "pong2" (usability check)
 *   "B\n" -> after 300 ms, read 1 MiB from connection 0 and check its pattern
 *            (the server meanwhile hits would-block: partial-write check)
 *   EOF   -> exit.
 * usage: tlsclient PORT N VER(12|13) */
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *m) { fprintf(stderr, "client: %s\n", m); ERR_print_errors_fp(stderr); exit(1); }

static int xchg(SSL *s, const char *out, const char *in) {
  size_t n;
  char buf[64];
  if (SSL_write_ex(s, out, strlen(out), &n) != 1) return 0;
  size_t got = 0, want = strlen(in);
  while (got < want) {
    if (SSL_read_ex(s, buf + got, sizeof buf - got, &n) != 1) return 0;
    got += n;
  }
  return memcmp(buf, in, want) == 0;
}

int main(int argc, char **argv) {
  if (argc < 4) die("usage");
  int port = atoi(argv[1]), n = atoi(argv[2]), ver = atoi(argv[3]);
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (ver == 12) {
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305");
  } else {
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384"); /* browsers' order */
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  SSL **ss = calloc(n, sizeof *ss);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (i == 0) { /* small window so the server's 1 MiB write must block */
      int rb = 8192;
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
    }
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
    ss[i] = SSL_new(ctx);
    SSL_set_fd(ss[i], fd);
    SSL_set_tlsext_host_name(ss[i], "localhost");
    if (SSL_connect(ss[i]) != 1) die("handshake");
    if (!xchg(ss[i], "ping", "pong")) die("ping/pong");
  }
  char line[16];
  while (fgets(line, sizeof line, stdin)) {
    if (line[0] == 'B') {
      usleep(300000);
      static unsigned char big[1 << 20];
      size_t got = 0, n;
      while (got < sizeof big) {
        if (SSL_read_ex(ss[0], big + got, sizeof big - got, &n) != 1) die("big read");
        got += n;
      }
      for (size_t i = 0; i < sizeof big; i++)
        if (big[i] != (unsigned char)(i * 7 + (i >> 12))) die("big data mismatch");
      printf("ok\n");
      fflush(stdout);
    }
    if (line[0] == 'P') {
      for (int i = 0; i < n; i++)
        if (!xchg(ss[i], "ping2", "pong2")) die("ping2/pong2");
    }
  }
  return 0;
}
