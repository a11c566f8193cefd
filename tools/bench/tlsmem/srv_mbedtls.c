/* mbed TLS 2.28 server (TLS 1.2 only: Debian builds without TLS 1.3). */
#include "harness.h"
#include <mbedtls/ssl.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/pk.h>
#include <mbedtls/error.h>

static mbedtls_ssl_config conf;
static mbedtls_x509_crt crt;
static mbedtls_pk_context pk;
static mbedtls_entropy_context ent;
static mbedtls_ctr_drbg_context drbg;
static const int ciphers[] = {MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 0};
typedef struct { mbedtls_ssl_context ssl; mbedtls_net_context net; } sess;
const char *lib_name(void) { return "mbedtls"; }

void lib_init(void) {
  if (g_ver != 12) hdie("mbedtls 2.28 in Debian: TLS 1.2 only");
  mbedtls_entropy_init(&ent);
  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0);
  mbedtls_x509_crt_init(&crt);
  mbedtls_pk_init(&pk);
  if (mbedtls_x509_crt_parse_file(&crt, "cert.pem") || mbedtls_pk_parse_keyfile(&pk, "key.pem", NULL))
    hdie("cert");
  mbedtls_ssl_config_init(&conf);
  mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                              MBEDTLS_SSL_PRESET_DEFAULT);
  mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
  mbedtls_ssl_conf_own_cert(&conf, &crt, &pk);
  mbedtls_ssl_conf_ciphersuites(&conf, ciphers);
}
static void drive(sess *s, int r) {
  if (r == MBEDTLS_ERR_SSL_WANT_READ) wait_fd(s->net.fd, POLLIN);
  else if (r == MBEDTLS_ERR_SSL_WANT_WRITE) wait_fd(s->net.fd, POLLOUT);
  else { char b[128]; mbedtls_strerror(r, b, sizeof b); fprintf(stderr, "mbedtls: %s\n", b); hdie("tls error"); }
}
static void read_exact(sess *s, const char *want) {
  unsigned char buf[64];
  int got = 0, l = strlen(want);
  while (got < l) {
    int r = mbedtls_ssl_read(&s->ssl, buf + got, sizeof buf - got);
    if (r > 0) got += r; else drive(s, r);
  }
  if (memcmp(buf, want, l)) hdie("bad data");
  int r = mbedtls_ssl_read(&s->ssl, buf, sizeof buf);
  if (r != MBEDTLS_ERR_SSL_WANT_READ) hdie("expected want-read");
}
static void write_all(sess *s, const char *m) {
  int r;
  while ((r = mbedtls_ssl_write(&s->ssl, (const unsigned char *)m, strlen(m))) <= 0) drive(s, r);
}
void *lib_accept(int fd) {
  sess *s = calloc(1, sizeof *s);
  mbedtls_ssl_init(&s->ssl);
  if (mbedtls_ssl_setup(&s->ssl, &conf)) hdie("setup");
  s->net.fd = fd;
  mbedtls_ssl_set_bio(&s->ssl, &s->net, mbedtls_net_send, mbedtls_net_recv, NULL);
  int r;
  while ((r = mbedtls_ssl_handshake(&s->ssl)) != 0) drive(s, r);
  read_exact(s, "ping");
  write_all(s, "pong");
  return s;
}
void lib_idle_tricks(void *p) { (void)p; }
void lib_pingpong2(void *p) {
  read_exact(p, "ping2");
  write_all(p, "pong2");
}
void lib_bigwrite(void *p, const unsigned char *buf, size_t len, int *wb, int *pw) {
  sess *s = p;
  size_t off = 0;
  while (off < len) {
    int r = mbedtls_ssl_write(&s->ssl, buf + off, len - off); /* at most one record */
    if (r > 0) { if ((size_t)r < len - off) (*pw)++; off += r; }
    else { (*wb)++; drive(s, r); } /* retry with the same args */
  }
}
