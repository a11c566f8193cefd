#include "gateway/auth/token_verifier.h"

#include <cstdlib>
#include <memory>

#include "absl/strings/match.h"
#include "common/json/bounded_json.h"
#include "gateway/auth/jwt_api.h"
#include "rapidjson/document.h"

namespace channel {
namespace {

struct JwtFree {
  void operator()(jwt_t* j) const { Jwt().jwt_free(j); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;

// Longest token considered: claims are small, and a peer may not make the
// gateway base64-decode and hash megabytes per attempt.
constexpr size_t kMaxTokenBytes = 8192;

bool IsHmac(jwt_alg_t alg) {
  return alg == JWT_ALG_HS256 || alg == JWT_ALG_HS384 || alg == JWT_ALG_HS512;
}
bool IsRsa(jwt_alg_t alg) {
  return alg == JWT_ALG_RS256 || alg == JWT_ALG_RS384 || alg == JWT_ALG_RS512;
}
bool IsEc(jwt_alg_t alg) {
  return alg == JWT_ALG_ES256 || alg == JWT_ALG_ES384 || alg == JWT_ALG_ES512;
}

// A JSON number (integer or not) as whole seconds.
bool ReadSeconds(const rapidjson::Value& v, int64_t* out) {
  if (v.IsInt64()) {
    *out = v.GetInt64();
    return true;
  }
  if (v.IsNumber()) {
    *out = static_cast<int64_t>(v.GetDouble());
    return true;
  }
  return false;
}

// A refusal: its message is the reason alone (TokenRejectReason).
absl::Status Rejected(absl::string_view reason) {
  return absl::UnauthenticatedError(reason);
}

bool ReadStrings(const rapidjson::Value& v, std::vector<std::string>* out) {
  if (!v.IsArray()) return false;
  for (const auto& item : v.GetArray()) {
    if (!item.IsString()) return false;
    out->emplace_back(item.GetString(), item.GetStringLength());
  }
  return true;
}

}  // namespace

bool MatchesAny(const std::vector<std::string>& patterns,
                absl::string_view id) {
  for (const std::string& p : patterns) {
    if (!p.empty() && p.back() == '*') {
      if (absl::StartsWith(id, absl::string_view(p).substr(0, p.size() - 1))) {
        return true;
      }
    } else if (p == id) {
      return true;
    }
  }
  return false;
}

absl::string_view TokenRejectReason(const absl::Status& status) {
  return status.ok() ? absl::string_view() : status.message();
}

absl::StatusOr<TokenVerifier> TokenVerifier::Create(Options options) {
  TokenVerifier v;
  // libjwt is loaded only when tokens are verified: without a secret or a
  // key, Verify() refuses every token before calling it.
  if (!options.hmac_secret.empty() || !options.public_key_pem.empty()) {
    if (absl::Status loaded = LoadJwt(); !loaded.ok()) return loaded;
  }
  if (!options.public_key_pem.empty()) {
    std::unique_ptr<BIO, decltype(&::BIO_free)> bio(
        Jwt().BIO_new_mem_buf(options.public_key_pem.data(),
                              static_cast<int>(options.public_key_pem.size())),
        Jwt().BIO_free);
    std::unique_ptr<EVP_PKEY, decltype(&::EVP_PKEY_free)> key(
        bio ? Jwt().PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr)
            : nullptr,
        Jwt().EVP_PKEY_free);
    if (!key) {
      return absl::InvalidArgumentError(
          "the public key file is not a PEM public key");
    }
    switch (Jwt().EVP_PKEY_get_base_id(key.get())) {
      case EVP_PKEY_RSA:
        v.key_type_ = KeyType::kRsa;
        break;
      case EVP_PKEY_EC:
        v.key_type_ = KeyType::kEc;
        break;
      default:
        return absl::InvalidArgumentError(
            "the public key must be an RSA or EC key");
    }
  }
  v.options_ = std::move(options);
  return v;
}

absl::StatusOr<TokenClaims> TokenVerifier::Verify(absl::string_view token,
                                                  int64_t now) const {
  if (token.empty() || token.size() > kMaxTokenBytes ||
      token.find('\0') != absl::string_view::npos) {
    return Rejected("malformed");
  }
  const std::string text(token);  // libjwt wants a C string
  JwtPtr jwt;
  bool verified_by_public_key = false;
  if (!options_.hmac_secret.empty()) {
    jwt_t* raw = nullptr;
    if (Jwt().jwt_decode(
            &raw, text.c_str(),
            reinterpret_cast<const unsigned char*>(options_.hmac_secret.data()),
            static_cast<int>(options_.hmac_secret.size())) == 0) {
      jwt.reset(raw);
    }
  }
  if (!jwt && !options_.public_key_pem.empty()) {
    jwt_t* raw = nullptr;
    if (Jwt().jwt_decode(&raw, text.c_str(),
                         reinterpret_cast<const unsigned char*>(
                             options_.public_key_pem.data()),
                         static_cast<int>(options_.public_key_pem.size())) ==
        0) {
      jwt.reset(raw);
      verified_by_public_key = true;
    }
  }
  if (!jwt) {
    return Rejected("bad_signature");
  }
  // The algorithm must belong to the key that verified the token.
  const jwt_alg_t alg = Jwt().jwt_get_alg(jwt.get());
  const bool alg_ok =
      verified_by_public_key
          ? (key_type_ == KeyType::kRsa ? IsRsa(alg) : IsEc(alg))
          : IsHmac(alg);
  if (!alg_ok) {
    return Rejected("alg_not_allowed");
  }
  char* json = Jwt().jwt_get_grants_json(jwt.get(), nullptr);
  if (json == nullptr) {
    return Rejected("bad_claims");
  }
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(json);
  std::free(json);
  if (doc.HasParseError() || !doc.IsObject()) {
    return Rejected("bad_claims");
  }
  TokenClaims claims;
  auto sub = doc.FindMember("sub");
  if (sub == doc.MemberEnd() || !sub->value.IsString() ||
      sub->value.GetStringLength() == 0 || sub->value.GetStringLength() > 128) {
    return Rejected("missing_sub");
  }
  claims.sub.assign(sub->value.GetString(), sub->value.GetStringLength());
  if (auto exp = doc.FindMember("exp"); exp != doc.MemberEnd()) {
    int64_t seconds;
    if (!ReadSeconds(exp->value, &seconds)) {
      return Rejected("bad_claims");
    }
    if (now >= seconds) {
      return Rejected("expired");
    }
    claims.exp = seconds;
  }
  if (auto nbf = doc.FindMember("nbf"); nbf != doc.MemberEnd()) {
    int64_t seconds;
    if (!ReadSeconds(nbf->value, &seconds)) {
      return Rejected("bad_claims");
    }
    if (now < seconds) {
      return Rejected("not_yet_valid");
    }
  }
  if (!options_.issuer.empty()) {
    auto iss = doc.FindMember("iss");
    if (iss == doc.MemberEnd() || !iss->value.IsString() ||
        options_.issuer != iss->value.GetString()) {
      return Rejected("bad_issuer");
    }
  }
  if (!options_.audience.empty()) {
    auto aud = doc.FindMember("aud");
    bool match = false;
    if (aud != doc.MemberEnd()) {
      if (aud->value.IsString()) {
        match = options_.audience == aud->value.GetString();
      } else if (aud->value.IsArray()) {
        for (const auto& a : aud->value.GetArray()) {
          match |= a.IsString() && options_.audience == a.GetString();
        }
      }
    }
    if (!match) {
      return Rejected("bad_audience");
    }
  }
  if (auto groups = doc.FindMember("groups"); groups != doc.MemberEnd()) {
    if (!ReadStrings(groups->value, &claims.groups)) {
      return Rejected("bad_claims");
    }
  }
  if (auto send = doc.FindMember("send"); send != doc.MemberEnd()) {
    claims.send.emplace();
    if (!ReadStrings(send->value, &*claims.send)) {
      return Rejected("bad_claims");
    }
  }
  if (auto all = doc.FindMember("send_to_all"); all != doc.MemberEnd()) {
    if (!all->value.IsBool()) {
      return Rejected("bad_claims");
    }
    claims.send_to_all = all->value.GetBool();
  }
  // Member info (presence groups): an object, nested a little at most;
  // its size is held against the group's rule when it joins.
  if (auto info = doc.FindMember("info"); info != doc.MemberEnd()) {
    if (!info->value.IsObject() || Depth(info->value, 9) > 8) {
      return Rejected("bad_claims");
    }
    claims.info = ToJson(info->value);
  }
  if (auto group = doc.FindMember("group"); group != doc.MemberEnd()) {
    if (group->value.IsString()) {
      claims.group.assign(group->value.GetString(),
                          group->value.GetStringLength());
    } else if (group->value.IsInt64()) {
      claims.group = std::to_string(group->value.GetInt64());
    } else {
      return Rejected("bad_claims");
    }
  }
  return claims;
}

}  // namespace channel
