#ifndef CHANNEL_GATEWAY_AUTH_TOKEN_VERIFIER_H_
#define CHANNEL_GATEWAY_AUTH_TOKEN_VERIFIER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace channel {

// What a verified token grants (docs/CLIENT-PROTOCOL.md "Tokens").
struct TokenClaims {
  std::string sub;                  // the user id
  std::optional<int64_t> exp;       // seconds since the epoch
  std::vector<std::string> groups;  // joinable: exact ids and "prefix*"
  // Groups the user may send to; unset: the groups it has joined.
  std::optional<std::vector<std::string>> send;
  bool send_to_all = false;
  std::string group;  // a join token: the one group it admits
  // The `info` claim, a JSON object as canonical text (empty: none): what
  // the other members of a presence group see of this user.
  std::string info;
};

// True when `id` equals a pattern or starts with a pattern's text before
// its final '*'.
bool MatchesAny(const std::vector<std::string>& patterns, absl::string_view id);

// The stable reason of a token TokenVerifier::Verify refused (the whole
// message of its status); empty for an OK status.
absl::string_view TokenRejectReason(const absl::Status& status);

// Verifies signed tokens (JWT, RFC 7519) with libjwt: HS256/384/512 with a
// shared secret, RS256/384/512 or ES256/384/512 with a public key (PEM).
// The algorithm must match the key it verified with: no "none", and no
// HS* token accepted because it verifies with the public key's text used
// as an HMAC secret (the classic confusion). Then the claims: `sub`
// required; `exp` and `nbf` checked; `iss` and `aud` when configured.
//
// Immutable after Create; safe to share between threads.
class TokenVerifier {
 public:
  struct Options {
    std::string hmac_secret;     // empty: no HMAC tokens
    std::string public_key_pem;  // empty: no RSA/EC tokens
    std::string issuer;          // non-empty: iss must equal it
    std::string audience;        // non-empty: aud must be or contain it
  };

  // InvalidArgument when the public key is not an RSA or EC public key.
  static absl::StatusOr<TokenVerifier> Create(Options options);
  TokenVerifier() = default;

  bool enabled() const {
    return !options_.hmac_secret.empty() || !options_.public_key_pem.empty();
  }

  // The claims of a valid token; `now` in seconds since the epoch. A
  // refused token is Unauthenticated, and its message is exactly one
  // stable reason, nothing else (clients, logs and the auth metric's label
  // show it as it is; TokenRejectReason reads it): malformed,
  // bad_signature, alg_not_allowed, expired, not_yet_valid, missing_sub,
  // bad_issuer, bad_audience, bad_claims. Never logs the token.
  absl::StatusOr<TokenClaims> Verify(absl::string_view token,
                                     int64_t now) const;

 private:
  Options options_;
  enum class KeyType { kNone, kRsa, kEc } key_type_ = KeyType::kNone;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_AUTH_TOKEN_VERIFIER_H_
