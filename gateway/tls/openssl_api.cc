#include "gateway/tls/openssl_api.h"

#include <cassert>

#include "common/ops/dynamic_library.h"

namespace channel {
namespace {

OpenSslApi* const api = new OpenSslApi;

absl::Status Load() {
  void* lib = nullptr;
  if (absl::Status s = OpenLibrary(CHANNEL_LIBSSL_SONAME,
                                   "--tls_cert (Debian package libssl3)", &lib);
      !s.ok()) {
    return s;
  }
#define CHANNEL_OPENSSL_RESOLVE(name) \
  CHANNEL_RESOLVE_OR_RETURN(lib, CHANNEL_LIBSSL_SONAME, api, name)
  CHANNEL_OPENSSL_FUNCTIONS(CHANNEL_OPENSSL_RESOLVE)
#undef CHANNEL_OPENSSL_RESOLVE
  return absl::OkStatus();
}

}  // namespace

absl::Status LoadOpenSsl() {
  static const absl::Status* const loaded = new absl::Status(Load());
  return *loaded;
}

const OpenSslApi& Ssl() {
  assert(api->SSL_new != nullptr);
  return *api;
}

}  // namespace channel
