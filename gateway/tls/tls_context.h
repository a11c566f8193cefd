#ifndef CHANNEL_GATEWAY_TLS_TLS_CONTEXT_H_
#define CHANNEL_GATEWAY_TLS_TLS_CONTEXT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "gateway/tls/tls_stream.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace channel {

// The wss server context (--tls_cert, --tls_key): the certificate chain, its
// key and the settings every connection's session shares. Immutable once
// loaded; one per process, shared by every worker (OpenSSL allows SSL_new
// on one context from any number of threads).
//
// Settings: TLS 1.2 and later; no renegotiation (a client cannot make a
// worker redo handshakes on one connection, and a write never has to wait
// for a read); record buffers released while empty, partial writes and
// moving write buffers (TlsStream says why); no server-side session cache
// (each cached session would cost memory beyond the connection's life;
// resumption still works with stateless tickets, against the same
// process).
class TlsContext {
 public:
  // Loads the PEM chain and key; an error names the file and OpenSSL's
  // reason.
  static absl::StatusOr<std::unique_ptr<TlsContext>> Load(
      const std::string& cert_chain_file, const std::string& key_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // A server session on the connected, non-blocking socket `fd` (not owned:
  // the caller closes it after the session). Empty when OpenSSL is out of
  // memory.
  TlsStream NewStream(int fd) const;

 private:
  explicit TlsContext(ssl_ctx_st* ctx) : ctx_(ctx) {}
  ssl_ctx_st* const ctx_;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_TLS_TLS_CONTEXT_H_
