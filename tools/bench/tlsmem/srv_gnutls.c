/* GnuTLS 3.7 server: gnutls_session_t over gnutls_transport_set_int (non-blocking fd).
 * tricks: notickets (GNUTLS_NO_TICKETS flag; default already sends none without a
 *         ticket key), nosessbuf? none known -> only measured as is. */
#include "harness.h"
#include <gnutls/gnutls.h>

static gnutls_certificate_credentials_t cred;
static gnutls_priority_t prio;
const char *lib_name(void) { return "gnutls"; }

void lib_init(void) {
  gnutls_global_init();
  gnutls_certificate_allocate_credentials(&cred);
  if (gnutls_certificate_set_x509_key_file(cred, "cert.pem", "key.pem", GNUTLS_X509_FMT_PEM) < 0)
    hdie("cert");
  const char *p = g_ver == 12 ? "NORMAL:-VERS-ALL:+VERS-TLS1.2" : "NORMAL:-VERS-ALL:+VERS-TLS1.3";
  if (gnutls_priority_init(&prio, p, NULL) < 0) hdie("prio");
}
static void drive(gnutls_session_t s, int r) {
  if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED) {
    fprintf(stderr, "gnutls: %s\n", gnutls_strerror(r));
    hdie("tls error");
  }
  wait_fd(gnutls_transport_get_int(s), gnutls_record_get_direction(s) ? POLLOUT : POLLIN);
}
static void read_exact(gnutls_session_t s, const char *want) {
  char buf[64];
  size_t got = 0, l = strlen(want);
  while (got < l) {
    ssize_t r = gnutls_record_recv(s, buf + got, sizeof buf - got);
    if (r > 0) got += r; else if (r == 0) hdie("eof"); else drive(s, r);
  }
  if (memcmp(buf, want, l)) hdie("bad data");
  ssize_t r = gnutls_record_recv(s, buf, sizeof buf);
  if (r != GNUTLS_E_AGAIN) hdie("expected EAGAIN");
}
static void write_all(gnutls_session_t s, const char *m) {
  ssize_t r = gnutls_record_send(s, m, strlen(m));
  while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
    drive(s, r);
    r = gnutls_record_send(s, NULL, 0); /* resume the pending record */
  }
  if (r < 0) hdie("send");
}
void *lib_accept(int fd) {
  gnutls_session_t s;
  unsigned flags = GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL;
  if (has_trick("notickets")) flags |= GNUTLS_NO_TICKETS;
  gnutls_init(&s, flags);
  gnutls_priority_set(s, prio);
  gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
  gnutls_certificate_server_set_request(s, GNUTLS_CERT_IGNORE);
  gnutls_transport_set_int(s, fd);
  int r;
  while ((r = gnutls_handshake(s)) < 0) {
    if (gnutls_error_is_fatal(r)) { fprintf(stderr, "%s\n", gnutls_strerror(r)); hdie("hs"); }
    drive(s, r);
  }
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
  gnutls_session_t s = p;
  size_t off = 0;
  while (off < len) {
    ssize_t r = gnutls_record_send(s, buf + off, len - off); /* at most one record */
    while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
      (*wb)++;
      drive(s, r);
      r = gnutls_record_send(s, NULL, 0); /* flush the record already queued */
    }
    if (r < 0) hdie("send");
    if ((size_t)r < len - off) (*pw)++;
    off += r;
  }
}
