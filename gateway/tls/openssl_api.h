#ifndef CHANNEL_GATEWAY_TLS_OPENSSL_API_H_
#define CHANNEL_GATEWAY_TLS_OPENSSL_API_H_

// OpenSSL's libssl, loaded when the gateway first needs it (--tls_cert),
// not linked: a gateway serving plain ws never maps libssl nor libcrypto
// (~1.8 MB of resident memory; docs/BENCHMARKS.md "Memory"). Call it as
// Ssl().SSL_read_ex(...): the same names and types as <openssl/ssl.h>.
// OpenSSL's macros over SSL_CTX_ctrl are written out as SSL_CTX_ctrl calls.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "absl/status/status.h"

namespace channel {

// Every libssl and libcrypto function the gateway's TLS calls.
#define CHANNEL_OPENSSL_FUNCTIONS(X)    \
  X(ERR_clear_error)                    \
  X(ERR_peek_last_error)                \
  X(ERR_reason_error_string)            \
  X(SSL_CTX_check_private_key)          \
  X(SSL_CTX_ctrl)                       \
  X(SSL_CTX_free)                       \
  X(SSL_CTX_new)                        \
  X(SSL_CTX_set_options)                \
  X(SSL_CTX_use_PrivateKey_file)        \
  X(SSL_CTX_use_certificate_chain_file) \
  X(SSL_do_handshake)                   \
  X(SSL_free)                           \
  X(SSL_get_error)                      \
  X(SSL_new)                            \
  X(SSL_read_ex)                        \
  X(SSL_set_accept_state)               \
  X(SSL_set_fd)                         \
  X(SSL_shutdown)                       \
  X(SSL_write_ex)                       \
  X(TLS_server_method)

struct OpenSslApi {
#define CHANNEL_OPENSSL_POINTER(name) decltype(&::name) name = nullptr;
  CHANNEL_OPENSSL_FUNCTIONS(CHANNEL_OPENSSL_POINTER)
#undef CHANNEL_OPENSSL_POINTER
};

// Loads libssl (CHANNEL_LIBSSL_SONAME, the one built against; it brings
// libcrypto) and resolves every function above; later calls return the
// first result. Thread-safe.
absl::Status LoadOpenSsl();

// The loaded functions. Only after LoadOpenSsl() returned OK.
const OpenSslApi& Ssl();

}  // namespace channel

#endif  // CHANNEL_GATEWAY_TLS_OPENSSL_API_H_
