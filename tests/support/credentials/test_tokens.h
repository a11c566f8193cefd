#ifndef CHANNEL_TESTS_SUPPORT_CREDENTIALS_TEST_TOKENS_H_
#define CHANNEL_TESTS_SUPPORT_CREDENTIALS_TEST_TOKENS_H_

#include <string>

namespace channel::testing {

// Keys made for one test run by the openssl CLI in a fresh directory
// (removed by the destructor): an RSA and an EC (P-256) key pair, PEM.
struct TestKeys {
  TestKeys();
  ~TestKeys();
  std::string dir;
  std::string rsa_private, rsa_public, ec_private, ec_public;  // PEM text
  std::string rsa_public_path, ec_public_path;
};

// A JWT signed by libjwt. `alg` is "HS256", "RS256", "ES256", ...; `key` the
// HMAC secret or the PEM private key; `claims_json` the payload object.
std::string MintToken(const std::string& alg, const std::string& key,
                      const std::string& claims_json);

// An unsigned token ({"alg":"none"}) with these claims.
std::string UnsignedToken(const std::string& claims_json);

// Seconds since the epoch, now.
long long UnixNow();

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_SUPPORT_CREDENTIALS_TEST_TOKENS_H_
