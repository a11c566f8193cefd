#include "tests/support/credentials/test_tokens.h"

#include <jwt.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "absl/strings/escaping.h"

namespace channel::testing {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void Run(const std::string& command) {
  if (std::system(command.c_str()) != 0) {
    throw std::runtime_error("failed: " + command);
  }
}

}  // namespace

TestKeys::TestKeys() {
  char tmpl[] = "/tmp/channel-keys-XXXXXX";
  const char* made = mkdtemp(tmpl);
  if (made == nullptr)
    throw std::runtime_error("mkdtemp failed for " + std::string(tmpl));
  dir = made;
  Run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " +
      dir + "/rsa.pem 2>/dev/null");
  Run("openssl pkey -in " + dir + "/rsa.pem -pubout -out " + dir +
      "/rsa.pub 2>/dev/null");
  Run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " +
      dir + "/ec.pem 2>/dev/null");
  Run("openssl pkey -in " + dir + "/ec.pem -pubout -out " + dir +
      "/ec.pub 2>/dev/null");
  rsa_private = Slurp(dir + "/rsa.pem");
  rsa_public = Slurp(dir + "/rsa.pub");
  ec_private = Slurp(dir + "/ec.pem");
  ec_public = Slurp(dir + "/ec.pub");
  rsa_public_path = dir + "/rsa.pub";
  ec_public_path = dir + "/ec.pub";
}

TestKeys::~TestKeys() {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

std::string MintToken(const std::string& alg, const std::string& key,
                      const std::string& claims_json) {
  jwt_t* jwt = nullptr;
  jwt_new(&jwt);
  jwt_add_grants_json(jwt, claims_json.c_str());
  jwt_set_alg(jwt, jwt_str_alg(alg.c_str()),
              reinterpret_cast<const unsigned char*>(key.data()),
              static_cast<int>(key.size()));
  char* text = jwt_encode_str(jwt);
  std::string token = text != nullptr ? text : "";
  free(text);
  jwt_free(jwt);
  if (token.empty()) throw std::runtime_error("jwt_encode_str failed");
  return token;
}

std::string UnsignedToken(const std::string& claims_json) {
  std::string header, payload;
  absl::WebSafeBase64Escape(R"({"alg":"none","typ":"JWT"})", &header);
  absl::WebSafeBase64Escape(claims_json, &payload);
  return header + "." + payload + ".";
}

long long UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace channel::testing
