/* OpenSSL 3.0 server, configured like gateway/tls/tls_context.cc, plus
 * optional post-handshake tricks (argv[3], comma separated):
 *  ctx-level:  noticket (SSL_OP_NO_TICKET), tickets0 (SSL_CTX_set_num_tickets 0),
 *              readlen (SSL_CTX_set_default_read_buffer_len 512),
 *              pipelines1 (SSL_CTX_set_max_pipelines 1), sidctx (session id ctx),
 *              chacha (server prefers CHACHA20-POLY1305), nocache=always on
 *  per-SSL after handshake: freebuf (SSL_free_buffers), certsclear (SSL_certs_clear),
 *              clientca (SSL_set_client_CA_list NULL), nosess (SSL_set_session NULL),
 *              swapctx (SSL_set_SSL_CTX to a cert-less ctx)
 *  norelease: drop SSL_MODE_RELEASE_BUFFERS (to show what it buys)
 */
#include "harness.h"
#include <openssl/ssl.h>
#include <openssl/err.h>

static SSL_CTX *ctx, *bare_ctx;
const char *lib_name(void) { return "openssl"; }

void lib_init(void) {
  ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_ALL | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_use_certificate_chain_file(ctx, "cert.pem") != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, "key.pem", SSL_FILETYPE_PEM) != 1)
    hdie("cert");
  if (has_trick("norelease")) SSL_CTX_clear_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (has_trick("noticket")) SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  if (has_trick("tickets0")) SSL_CTX_set_num_tickets(ctx, 0);
  if (has_trick("readlen")) SSL_CTX_set_default_read_buffer_len(ctx, 512);
  if (has_trick("pipelines1")) SSL_CTX_set_max_pipelines(ctx, 1);
  if (has_trick("sidctx")) SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"gw", 2);
  if (has_trick("chacha")) {
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_ciphersuites(ctx, "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384");
    SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256");
  }
  bare_ctx = SSL_CTX_new(TLS_server_method());
}

static void drive(SSL *s, int r) {
  switch (SSL_get_error(s, r)) {
    case SSL_ERROR_WANT_READ: wait_fd(SSL_get_fd(s), POLLIN); break;
    case SSL_ERROR_WANT_WRITE: wait_fd(SSL_get_fd(s), POLLOUT); break;
    default: ERR_print_errors_fp(stderr); hdie("ssl error");
  }
}
static void read_exact(SSL *s, const char *want) {
  char buf[64];
  size_t got = 0, n, l = strlen(want);
  while (got < l) {
    int r = SSL_read_ex(s, buf + got, sizeof buf - got, &n);
    if (r == 1) got += n; else drive(s, r);
  }
  if (memcmp(buf, want, l)) hdie("bad data");
  /* the event loop reads until would-block: leave the session in that state */
  int r = SSL_read_ex(s, buf, sizeof buf, &n);
  if (r == 1 || SSL_get_error(s, r) != SSL_ERROR_WANT_READ) hdie("expected want-read");
}
static void write_all(SSL *s, const char *m) {
  size_t n;
  int r;
  while ((r = SSL_write_ex(s, m, strlen(m), &n)) != 1) drive(s, r);
}

void *lib_accept(int fd) {
  SSL *s = SSL_new(ctx);
  SSL_set_fd(s, fd);
  SSL_set_accept_state(s);
  int r;
  while ((r = SSL_do_handshake(s)) != 1) drive(s, r);
  read_exact(s, "ping");
  write_all(s, "pong");
  return s;
}
void lib_idle_tricks(void *p) {
  SSL *s = p;
  if (has_trick("freebuf")) SSL_free_buffers(s);
  if (has_trick("certsclear")) SSL_certs_clear(s);
  if (has_trick("clientca")) SSL_set_client_CA_list(s, NULL);
  if (has_trick("swapctx")) SSL_set_SSL_CTX(s, bare_ctx);
  if (has_trick("nosess")) SSL_set_session(s, NULL);
}
void lib_pingpong2(void *p) {
  SSL *s = p;
  read_exact(s, "ping2");
  write_all(s, "pong2");
}
void lib_bigwrite(void *p, const unsigned char *buf, size_t len, int *wb, int *pw) {
  SSL *s = p;
  size_t off = 0, n;
  while (off < len) {
    int r = SSL_write_ex(s, buf + off, len - off, &n); /* ENABLE_PARTIAL_WRITE */
    if (r == 1) { off += n; if (n < len - off + n) (*pw)++; }
    else { (*wb)++; drive(s, r); } /* retry with the same (possibly moved) args */
  }
}
