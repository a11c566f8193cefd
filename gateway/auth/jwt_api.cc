#include "gateway/auth/jwt_api.h"

#include <cassert>

#include "common/ops/dynamic_library.h"

namespace channel {
namespace {

JwtApi* const api = new JwtApi;

absl::Status Load() {
  void* jwt = nullptr;
  void* crypto = nullptr;
  const char* kFor = "--token_hmac_secret / --token_public_key";
  if (absl::Status s = OpenLibrary(CHANNEL_LIBJWT_SONAME, kFor, &jwt);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = OpenLibrary(CHANNEL_LIBCRYPTO_SONAME, kFor, &crypto);
      !s.ok()) {
    return s;
  }
#define CHANNEL_JWT_RESOLVE(name) \
  CHANNEL_RESOLVE_OR_RETURN(jwt, CHANNEL_LIBJWT_SONAME, api, name)
#define CHANNEL_JWT_CRYPTO_RESOLVE(name) \
  CHANNEL_RESOLVE_OR_RETURN(crypto, CHANNEL_LIBCRYPTO_SONAME, api, name)
  CHANNEL_JWT_FUNCTIONS(CHANNEL_JWT_RESOLVE)
  CHANNEL_JWT_CRYPTO_FUNCTIONS(CHANNEL_JWT_CRYPTO_RESOLVE)
#undef CHANNEL_JWT_CRYPTO_RESOLVE
#undef CHANNEL_JWT_RESOLVE
  return absl::OkStatus();
}

}  // namespace

absl::Status LoadJwt() {
  static const absl::Status* const loaded = new absl::Status(Load());
  return *loaded;
}

const JwtApi& Jwt() {
  assert(api->jwt_decode != nullptr);
  return *api;
}

}  // namespace channel
