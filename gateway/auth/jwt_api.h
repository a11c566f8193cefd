#ifndef CHANNEL_GATEWAY_AUTH_JWT_API_H_
#define CHANNEL_GATEWAY_AUTH_JWT_API_H_

// libjwt (and the libcrypto calls that read a public key), loaded when the
// gateway verifies tokens (--token_hmac_secret or --token_public_key), not
// linked: a gateway without tokens never maps libjwt nor libcrypto. Call
// it as Jwt().jwt_decode(...): the same names and types as <jwt.h> and
// <openssl/pem.h>.
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "absl/status/status.h"

namespace channel {

#define CHANNEL_JWT_FUNCTIONS(X) \
  X(jwt_decode)                  \
  X(jwt_free)                    \
  X(jwt_get_alg)                 \
  X(jwt_get_grants_json)

// From libcrypto (libjwt's own dependency): a public key's type.
#define CHANNEL_JWT_CRYPTO_FUNCTIONS(X) \
  X(BIO_free)                           \
  X(BIO_new_mem_buf)                    \
  X(EVP_PKEY_free)                      \
  X(EVP_PKEY_get_base_id)               \
  X(PEM_read_bio_PUBKEY)

struct JwtApi {
#define CHANNEL_JWT_POINTER(name) decltype(&::name) name = nullptr;
  CHANNEL_JWT_FUNCTIONS(CHANNEL_JWT_POINTER)
  CHANNEL_JWT_CRYPTO_FUNCTIONS(CHANNEL_JWT_POINTER)
#undef CHANNEL_JWT_POINTER
};

// Loads libjwt and libcrypto (CHANNEL_LIBJWT_SONAME, CHANNEL_LIBCRYPTO_SONAME:
// the ones built against) and resolves every function above; later calls
// return the first result. Thread-safe.
absl::Status LoadJwt();

// The loaded functions. Only after LoadJwt() returned OK.
const JwtApi& Jwt();

}  // namespace channel

#endif  // CHANNEL_GATEWAY_AUTH_JWT_API_H_
