/* wolfSSL 5.5.4 (Debian build) server. */
#include "harness.h"
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

static WOLFSSL_CTX *ctx;
const char *lib_name(void) { return "wolfssl"; }

void lib_init(void) {
  wolfSSL_Init();
  ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
  if (wolfSSL_CTX_use_certificate_chain_file(ctx, "cert.pem") != WOLFSSL_SUCCESS ||
      wolfSSL_CTX_use_PrivateKey_file(ctx, "key.pem", WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
    hdie("cert");
  wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2);
  wolfSSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
  wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
  wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_OFF);
  if (has_trick("noticket")) wolfSSL_CTX_NoTicketTLSv12(ctx), wolfSSL_CTX_no_ticket_TLSv13(ctx);
}
static void drive(WOLFSSL *s, int r) {
  int e = wolfSSL_get_error(s, r);
  if (e == WOLFSSL_ERROR_WANT_READ) wait_fd(wolfSSL_get_fd(s), POLLIN);
  else if (e == WOLFSSL_ERROR_WANT_WRITE) wait_fd(wolfSSL_get_fd(s), POLLOUT);
  else { char b[128]; fprintf(stderr, "wolfssl: %d %s\n", e, wolfSSL_ERR_error_string(e, b)); hdie("tls error"); }
}
static void read_exact(WOLFSSL *s, const char *want) {
  char buf[64];
  int got = 0, l = strlen(want);
  while (got < l) {
    int r = wolfSSL_read(s, buf + got, sizeof buf - got);
    if (r > 0) got += r; else drive(s, r);
  }
  if (memcmp(buf, want, l)) hdie("bad data");
  int r = wolfSSL_read(s, buf, sizeof buf);
  if (r > 0 || wolfSSL_get_error(s, r) != WOLFSSL_ERROR_WANT_READ) hdie("expected want-read");
}
static void write_all(WOLFSSL *s, const char *m) {
  int r;
  while ((r = wolfSSL_write(s, m, strlen(m))) <= 0) drive(s, r);
}
void *lib_accept(int fd) {
  WOLFSSL *s = wolfSSL_new(ctx);
  wolfSSL_set_fd(s, fd);
  int r;
  while ((r = wolfSSL_accept(s)) != WOLFSSL_SUCCESS) drive(s, r);
  read_exact(s, "ping");
  write_all(s, "pong");
  return s;
}
void lib_idle_tricks(void *p) {
  WOLFSSL *s = p;
  if (has_trick("freearrays")) wolfSSL_FreeArrays(s);
}
void lib_pingpong2(void *p) {
  read_exact(p, "ping2");
  write_all(p, "pong2");
}
void lib_bigwrite(void *p, const unsigned char *buf, size_t len, int *wb, int *pw) {
  WOLFSSL *s = p;
  size_t off = 0;
  while (off < len) {
    int r = wolfSSL_write(s, buf + off, (int)(len - off));
    if (r > 0) { if ((size_t)r < len - off) (*pw)++; off += r; }
    else { (*wb)++; drive(s, r); } /* retry with the same args */
  }
}
