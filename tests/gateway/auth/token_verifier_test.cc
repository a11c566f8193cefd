// TokenVerifier: every claim path and the algorithm rules, with tokens
// minted by libjwt and keys made by the openssl CLI.
#include "gateway/auth/token_verifier.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/credentials/test_tokens.h"

namespace channel {
namespace {

using testing::MintToken;
using testing::TestKeys;
using testing::UnixNow;
using testing::UnsignedToken;

const std::string kSecret = "0123456789abcdef0123456789abcdef";

TestKeys& Keys() {
  static TestKeys* keys = new TestKeys();
  return *keys;
}

TokenVerifier Make(TokenVerifier::Options options) {
  auto v = TokenVerifier::Create(std::move(options));
  EXPECT_TRUE(v.ok()) << v.status();
  return *std::move(v);
}

std::string Claims(const std::string& extra) {
  return absl::StrCat(R"({"sub":"alice","exp":)", UnixNow() + 600,
                      extra.empty() ? "" : ",", extra, "}");
}

struct TokenCase {
  const char* name;
  // Which verifier: "hmac", "rsa", "ec", "both" (hmac + rsa), "iss_aud".
  const char* verifier;
  std::function<std::string()> token;
  const char* reason;  // "" = ok
};

class TokenVerifierTest : public ::testing::TestWithParam<TokenCase> {};

TEST_P(TokenVerifierTest, Verdict) {
  const TokenCase& c = GetParam();
  TokenVerifier::Options o;
  const std::string which = c.verifier;
  if (which == "hmac" || which == "both" || which == "iss_aud") {
    o.hmac_secret = kSecret;
  }
  if (which == "rsa" || which == "both") o.public_key_pem = Keys().rsa_public;
  if (which == "ec") o.public_key_pem = Keys().ec_public;
  if (which == "iss_aud") {
    o.issuer = "https://app.example";
    o.audience = "channel";
  }
  TokenVerifier v = Make(o);
  absl::StatusOr<TokenClaims> r = v.Verify(c.token(), UnixNow());
  if (std::string(c.reason).empty()) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->sub, "alice");
  } else {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
    // The reason is the whole message: clients and metrics see it as is.
    EXPECT_EQ(r.status().message(), c.reason);
    EXPECT_EQ(TokenRejectReason(r.status()), c.reason);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Claims, TokenVerifierTest,
    ::testing::Values(
        TokenCase{"hs256", "hmac",
                  [] { return MintToken("HS256", kSecret, Claims("")); }, ""},
        TokenCase{"hs512", "hmac",
                  [] { return MintToken("HS512", kSecret, Claims("")); }, ""},
        TokenCase{
            "rs256", "rsa",
            [] { return MintToken("RS256", Keys().rsa_private, Claims("")); },
            ""},
        TokenCase{
            "es256", "ec",
            [] { return MintToken("ES256", Keys().ec_private, Claims("")); },
            ""},
        TokenCase{
            "rs256_with_both", "both",
            [] { return MintToken("RS256", Keys().rsa_private, Claims("")); },
            ""},
        TokenCase{"expired", "hmac",
                  [] {
                    return MintToken("HS256", kSecret,
                                     absl::StrCat(R"({"sub":"alice","exp":)",
                                                  UnixNow() - 1, "}"));
                  },
                  "expired"},
        TokenCase{"not_yet_valid", "hmac",
                  [] {
                    return MintToken(
                        "HS256", kSecret,
                        Claims(absl::StrCat(R"("nbf":)", UnixNow() + 60)));
                  },
                  "not_yet_valid"},
        TokenCase{"bad_signature", "hmac",
                  [] {
                    return MintToken("HS256", "another secret of 32 bytes!!!!!",
                                     Claims(""));
                  },
                  "bad_signature"},
        TokenCase{"tampered", "hmac",
                  [] {
                    std::string t = MintToken("HS256", kSecret, Claims(""));
                    t[t.find('.') + 3] ^= 1;
                    return t;
                  },
                  "bad_signature"},
        TokenCase{"alg_none", "hmac", [] { return UnsignedToken(Claims("")); },
                  "bad_signature"},
        // HS256 signed with the RSA public key's PEM text as the secret:
        // libjwt would verify it with that text; the alg rule refuses it.
        TokenCase{
            "hs_rs_confusion", "rsa",
            [] { return MintToken("HS256", Keys().rsa_public, Claims("")); },
            "alg_not_allowed"},
        TokenCase{
            "es_token_rsa_key", "rsa",
            [] { return MintToken("ES256", Keys().ec_private, Claims("")); },
            "bad_signature"},
        TokenCase{
            "rs_token_hmac_only", "hmac",
            [] { return MintToken("RS256", Keys().rsa_private, Claims("")); },
            "bad_signature"},
        TokenCase{
            "missing_sub", "hmac",
            [] { return MintToken("HS256", kSecret, R"({"groups":["a"]})"); },
            "missing_sub"},
        TokenCase{"malformed", "hmac", [] { return std::string("not.a.jwt"); },
                  "bad_signature"},
        TokenCase{"empty", "hmac", [] { return std::string(); }, "malformed"},
        TokenCase{"huge", "hmac", [] { return std::string(9000, 'a'); },
                  "malformed"},
        TokenCase{"bad_groups", "hmac",
                  [] {
                    return MintToken("HS256", kSecret,
                                     Claims(R"("groups":"a")"));
                  },
                  "bad_claims"},
        TokenCase{
            "issuer_ok", "iss_aud",
            [] {
              return MintToken(
                  "HS256", kSecret,
                  Claims(
                      R"("iss":"https://app.example","aud":["x","channel"])"));
            },
            ""},
        TokenCase{"bad_issuer", "iss_aud",
                  [] {
                    return MintToken(
                        "HS256", kSecret,
                        Claims(
                            R"("iss":"https://evil.example","aud":"channel")"));
                  },
                  "bad_issuer"},
        TokenCase{"bad_audience", "iss_aud",
                  [] {
                    return MintToken(
                        "HS256", kSecret,
                        Claims(R"("iss":"https://app.example","aud":"other")"));
                  },
                  "bad_audience"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(TokenVerifierClaimsTest, GroupsSendAndJoinClaims) {
  TokenVerifier::Options o;
  o.hmac_secret = kSecret;
  TokenVerifier v = Make(o);
  absl::StatusOr<TokenClaims> r = v.Verify(
      MintToken("HS256", kSecret,
                Claims(R"("groups":["room-1","team:*"],"send":["room-1"],)"
                       R"("send_to_all":true,"group":"g7")")),
      UnixNow());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(MatchesAny(r->groups, "room-1"));
  EXPECT_TRUE(MatchesAny(r->groups, "team:blue"));
  EXPECT_FALSE(MatchesAny(r->groups, "room-2"));
  EXPECT_FALSE(MatchesAny(r->groups, "team"));
  ASSERT_TRUE(r->send.has_value());
  EXPECT_EQ(*r->send, std::vector<std::string>{"room-1"});
  EXPECT_TRUE(r->send_to_all);
  EXPECT_EQ(r->group, "g7");
  ASSERT_TRUE(r->exp.has_value());
}

TEST(TokenVerifierClaimsTest, RejectReasonOfOkIsEmpty) {
  EXPECT_EQ(TokenRejectReason(absl::OkStatus()), "");
}

TEST(TokenVerifierClaimsTest, NonKeyFileIsRefused) {
  TokenVerifier::Options o;
  o.public_key_pem = "not a key";
  EXPECT_FALSE(TokenVerifier::Create(o).ok());
}

}  // namespace
}  // namespace channel
