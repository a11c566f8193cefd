#include "gateway/tls/tls_context.h"

#include "absl/strings/str_cat.h"
#include "gateway/tls/openssl_api.h"

namespace channel {
namespace {

// OpenSSL's reason for the last failure, for an error message.
std::string LastError() {
  const unsigned long e = Ssl().ERR_peek_last_error();
  Ssl().ERR_clear_error();
  const char* reason = Ssl().ERR_reason_error_string(e);
  return reason != nullptr ? reason : "unknown OpenSSL error";
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsContext>> TlsContext::Load(
    const std::string& cert_chain_file, const std::string& key_file) {
  if (absl::Status loaded = LoadOpenSsl(); !loaded.ok()) return loaded;
  Ssl().ERR_clear_error();
  SSL_CTX* ctx = Ssl().SSL_CTX_new(Ssl().TLS_server_method());
  if (ctx == nullptr) {
    return absl::InternalError(absl::StrCat("TLS context: ", LastError()));
  }
  std::unique_ptr<TlsContext> out(new TlsContext(ctx));
  // OpenSSL's SSL_CTX_set_min_proto_version, _set_mode and
  // _set_session_cache_mode macros, written out.
  Ssl().SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION,
                     nullptr);
  Ssl().SSL_CTX_set_options(
      ctx, SSL_OP_ALL | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  Ssl().SSL_CTX_ctrl(ctx, SSL_CTRL_MODE,
                     SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                         SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER,
                     nullptr);
  Ssl().SSL_CTX_ctrl(ctx, SSL_CTRL_SET_SESS_CACHE_MODE, SSL_SESS_CACHE_OFF,
                     nullptr);
  if (Ssl().SSL_CTX_use_certificate_chain_file(ctx, cert_chain_file.c_str()) !=
      1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_cert ", cert_chain_file, ": ", LastError()));
  }
  if (Ssl().SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(),
                                        SSL_FILETYPE_PEM) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_key ", key_file, ": ", LastError()));
  }
  if (Ssl().SSL_CTX_check_private_key(ctx) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_key ", key_file, " does not match --tls_cert: ", LastError()));
  }
  return out;
}

TlsContext::~TlsContext() { Ssl().SSL_CTX_free(ctx_); }

TlsStream TlsContext::NewStream(int fd) const {
  Ssl().ERR_clear_error();
  SSL* ssl = Ssl().SSL_new(ctx_);
  if (ssl == nullptr) return TlsStream();
  if (Ssl().SSL_set_fd(ssl, fd) != 1) {
    Ssl().SSL_free(ssl);
    Ssl().ERR_clear_error();
    return TlsStream();
  }
  Ssl().SSL_set_accept_state(ssl);
  return TlsStream(ssl);
}

}  // namespace channel
