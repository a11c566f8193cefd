// ws-gateway with token authentication: real broker and gateways, real
// WebSocket clients, tokens minted by libjwt (keys from the openssl CLI).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/gateway/gateway_fixture.h"
#include "tests/support/clients/test_broker_client.h"
#include "tests/support/clients/ws_test_clients.h"
#include "tests/support/credentials/test_tokens.h"

namespace channel::testing {
namespace {

using std::chrono::seconds;

std::string Token(const std::string& sub, const std::string& extra = "",
                  long long ttl = 600) {
  return MintToken(
      "HS256", kSecret,
      absl::StrCat(R"({"sub":")", sub, R"(","exp":)", UnixNow() + ttl,
                   extra.empty() ? "" : ",", extra, "}"));
}

class GatewayTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = BrokerProcess::Start();
    gw1_ = GatewayProcess::Start(broker_.port, Flags());
    gw2_ = GatewayProcess::Start(broker_.port, Flags());
  }
  static std::vector<std::string> Flags() {
    return {"--token_hmac_secret=" + kSecret, "--auth_timeout_ms=1000",
            "--ping_interval_ms=200", "--pong_timeout_ms=2000"};
  }
  std::string Uri(const GatewayProcess& gw, const std::string& token) {
    return gw.uri() + "/?token=" + token;
  }

  BrokerProcess broker_;
  GatewayProcess gw1_, gw2_;
  WsTestClients ws_;
};

struct RefusedCase {
  const char* name;
  std::function<std::string()> token;
  const char* reason;
};

class GatewayTokenRefusedTest
    : public GatewayTokenTest,
      public ::testing::WithParamInterface<RefusedCase> {};

// Every refused token: an error reply naming the reason, then close 4001.
TEST_P(GatewayTokenRefusedTest, ErrorThenClose4001) {
  const int c = ws_.Connect(Uri(gw1_, GetParam().token()));
  ASSERT_GE(c, 0);
  auto code = ws_.WaitClosed(c);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 4001);
  auto got = ws_.Messages(c);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].find(R"("code":"unauthorized")"), std::string::npos);
  EXPECT_NE(got[0].find(GetParam().reason), std::string::npos) << got[0];
  EXPECT_NE(ws_.CloseReason(c).find(GetParam().reason), std::string::npos);
  // The token never reaches the log.
  EXPECT_EQ(gw1_.process->Output().find(GetParam().token().substr(0, 20)),
            std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Tokens, GatewayTokenRefusedTest,
    ::testing::Values(
        RefusedCase{"expired", [] { return Token("alice", "", -5); },
                    "expired"},
        RefusedCase{"not_yet_valid",
                    [] {
                      return Token("alice",
                                   absl::StrCat(R"("nbf":)", UnixNow() + 300));
                    },
                    "not_yet_valid"},
        RefusedCase{"bad_signature",
                    [] {
                      return MintToken("HS256",
                                       "wrong secret wrong secret !!!!",
                                       R"({"sub":"alice"})");
                    },
                    "bad_signature"},
        RefusedCase{"alg_none",
                    [] { return UnsignedToken(R"({"sub":"alice"})"); },
                    "bad_signature"},
        RefusedCase{"missing_sub",
                    [] { return MintToken("HS256", kSecret, R"({"x":1})"); },
                    "missing_sub"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(GatewayTokenTest, JoinAndSendFollowTheClaims) {
  const int a = ws_.Connect(Uri(
      gw1_,
      Token("alice", R"("groups":["room","team:*"],"send":["room","out"])")));
  const int b = ws_.Connect(Uri(gw2_, Token("bob", R"("groups":["room"])")));
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_EQ(
      ws_.Request(a, R"({"cmd":"add_group","group_id":"room","id":1})", "1"),
      Ok(1));
  ASSERT_EQ(ws_.Request(
                a, R"({"cmd":"add_group","group_id":"team:red","id":2})", "2"),
            Ok(2));  // by prefix
  std::string refused =
      ws_.Request(a, R"({"cmd":"add_group","group_id":"secret","id":3})", "3");
  EXPECT_NE(refused.find(R"("code":"forbidden")"), std::string::npos)
      << refused;
  EXPECT_NE(refused.find("secret"), std::string::npos) << refused;
  ASSERT_EQ(
      ws_.Request(b, R"({"cmd":"add_group","group_id":"room","id":1})", "1"),
      Ok(1));
  // b has no send claim: it may send to groups it joined, and only those.
  ASSERT_EQ(
      ws_.Request(
          b,
          R"({"cmd":"send_to_group","group_id":"room","message":"hi","id":2})",
          "2"),
      Ok(2));
  refused = ws_.Request(
      b,
      R"({"cmd":"send_to_group","group_id":"team:red","message":"x","id":3})",
      "3");
  EXPECT_NE(refused.find("forbidden"), std::string::npos) << refused;
  // a's send claim lists "room" and "out" (not joined), not "team:red".
  ASSERT_EQ(
      ws_.Request(
          a, R"({"cmd":"send_to_group","group_id":"out","message":"o","id":4})",
          "4"),
      Ok(4));
  refused = ws_.Request(
      a,
      R"({"cmd":"send_to_group","group_id":"team:red","message":"x","id":5})",
      "5");
  EXPECT_NE(refused.find("forbidden"), std::string::npos) << refused;
  refused =
      ws_.Request(a, R"({"cmd":"send_to_all","message":"x","id":6})", "6");
  EXPECT_NE(refused.find("forbidden"), std::string::npos) << refused;
  // With the JSON framing, a message names its sender's user id.
  const int rich = ws_.Connect(gw1_.uri() + "/?format=json&token=" +
                               Token("carol", R"("groups":["room"])"));
  ASSERT_GE(rich, 0);
  ASSERT_EQ(
      ws_.Request(rich, R"({"cmd":"add_group","group_id":"room","id":1})", "1"),
      Ok(1));
  ASSERT_EQ(
      ws_.Request(
          b,
          R"({"cmd":"send_to_group","group_id":"room","message":"hey","id":7})",
          "7"),
      Ok(7));
  EXPECT_EQ(
      ws_.WaitForMessages(rich, 2)[1],
      R"({"type":"message","group":"room","message":"hey","from":"bob"})");
  // Still open, and "hi" reached a.
  auto got = ws_.WaitForMessages(a, 7);
  EXPECT_NE(std::find(got.begin(), got.end(), "hi"), got.end());
  EXPECT_TRUE(ws_.IsOpen(a));
  EXPECT_GE(
      gw1_.Metric("channel_gateway_forbidden_total{command=\"add_group\"}"), 1);
  EXPECT_GE(gw1_.Metric("channel_gateway_auth_total{result=\"ok\"}"), 1);
}

TEST_F(GatewayTokenTest, AuthCommandAndTimeout) {
  const int a = ws_.Connect(gw1_.uri());
  ASSERT_GE(a, 0);
  // Nothing but auth before authenticating.
  std::string r =
      ws_.Request(a, R"({"cmd":"add_group","group_id":"room","id":1})", "1");
  EXPECT_NE(r.find("unauthorized"), std::string::npos) << r;
  ASSERT_EQ(ws_.Request(a,
                        absl::StrCat(R"({"cmd":"auth","token":")",
                                     Token("alice", R"("groups":["room"])"),
                                     R"(","id":2})"),
                        "2"),
            Ok(2));
  EXPECT_EQ(
      ws_.Request(a, R"({"cmd":"add_group","group_id":"room","id":3})", "3"),
      Ok(3));
  // A silent connection is closed with 4002 after --auth_timeout_ms.
  const int silent = ws_.Connect(gw1_.uri());
  auto code = ws_.WaitClosed(silent, seconds(10));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 4002);
  EXPECT_TRUE(ws_.IsOpen(a));
  EXPECT_EQ(gw1_.Metric("channel_gateway_auth_timeouts_total"), 1);
}

TEST_F(GatewayTokenTest, JoinTokens) {
  const int a = ws_.Connect(Uri(gw1_, Token("alice")));  // no groups claim
  ASSERT_GE(a, 0);
  auto join = [&](const std::string& group, const std::string& token, int id) {
    return ws_.Request(
        a,
        absl::StrCat(R"({"cmd":"add_group","group_id":")", group,
                     R"(","token":")", token, R"(","id":)", id, "}"),
        std::to_string(id));
  };
  EXPECT_EQ(join("g1", Token("alice", R"("group":"g1")"), 1), Ok(1));
  EXPECT_NE(join("g2", Token("bob", R"("group":"g2")"), 2).find("forbidden"),
            std::string::npos);  // another user's
  EXPECT_NE(join("g3", Token("alice", R"("group":"g2")"), 3).find("forbidden"),
            std::string::npos);  // another group's
  EXPECT_NE(
      join("g4", Token("alice", R"("group":"g4")", -1), 4).find("expired"),
      std::string::npos);
  // A join token that expires in 1 s: the membership ends then.
  EXPECT_EQ(join("short", Token("alice", R"("group":"short")", 1), 5), Ok(5));
  auto notice = ws_.WaitForMessages(a, 6, seconds(10));
  ASSERT_EQ(notice.size(), 6u);
  EXPECT_NE(notice[5].find("join_expired"), std::string::npos) << notice[5];
  // g1 still works, short no longer delivers.
  TestBrokerClient backend(broker_.port);
  ASSERT_TRUE(backend.WaitConnected());
  ASSERT_TRUE(backend.Publish("group:short", "gone").ok());
  ASSERT_TRUE(backend.Publish("group:g1", "still").ok());
  auto got = ws_.WaitForMessages(a, 7);
  EXPECT_EQ(got.back(), "still");
}

TEST_F(GatewayTokenTest, RefreshKeepsTheConnectionExpiryClosesIt) {
  const int keep =
      ws_.Connect(Uri(gw1_, Token("alice", R"("groups":["r"])", 2)));
  const int lose =
      ws_.Connect(Uri(gw1_, Token("carol", R"("groups":["r"])", 2)));
  ASSERT_GE(keep, 0);
  ASSERT_GE(lose, 0);
  ASSERT_EQ(ws_.Request(keep,
                        absl::StrCat(R"({"cmd":"auth","token":")",
                                     Token("alice", R"("groups":["r"])", 600),
                                     R"(","id":1})"),
                        "1"),
            Ok(1));
  // Another user's token is no refresh.
  std::string r = ws_.Request(keep,
                              absl::StrCat(R"({"cmd":"auth","token":")",
                                           Token("mallory"), R"(","id":2})"),
                              "2");
  EXPECT_NE(r.find("same user"), std::string::npos) << r;
  auto code = ws_.WaitClosed(lose, seconds(10));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 4003);
  // By now the first token of `keep` has expired too: still open.
  EXPECT_EQ(
      ws_.Request(keep, R"({"cmd":"add_group","group_id":"r","id":3})", "3"),
      Ok(3));
  EXPECT_EQ(gw1_.Metric("channel_gateway_token_expiry_closes_total"), 1);
}

TEST_F(GatewayTokenTest, SendToUserReachesEveryConnectionOfTheUser) {
  const std::string send = R"("send":["sync"])";
  const int a1 = ws_.Connect(Uri(gw1_, Token("alice", send)));
  const int a2 = ws_.Connect(Uri(gw1_, Token("alice", send)));
  const int a3 = ws_.Connect(Uri(gw2_, Token("alice", send)));
  const int b = ws_.Connect(Uri(gw2_, Token("bob", send)));
  for (int c : {a1, a2, a3, b}) ASSERT_GE(c, 0);
  // Each gateway subscribed the user channels on its one broker link when
  // the connections opened; a publish acknowledged on that link after them
  // proves the broker has the subscriptions.
  for (int c : {a2, b}) {
    ASSERT_EQ(
        ws_.Request(
            c,
            R"({"cmd":"send_to_group","group_id":"sync","message":"s","id":9})",
            "9"),
        Ok(9));
  }
  TestBrokerClient backend(broker_.port);
  ASSERT_TRUE(backend.WaitConnected());
  ASSERT_TRUE(backend.Publish("user:alice", "for alice").ok());
  ASSERT_TRUE(backend.Publish("user:bob", "for bob").ok());
  for (int c : {a1, a2, a3}) {
    auto got = ws_.WaitForMessages(c, c == a2 ? 2 : 1);
    EXPECT_EQ(got.back(), "for alice") << c;
  }
  auto got_b = ws_.WaitForMessages(b, 2);
  EXPECT_EQ(got_b.back(), "for bob");
  // And nobody got anything else.
  EXPECT_EQ(ws_.Messages(a1), std::vector<std::string>{"for alice"});
  EXPECT_EQ(ws_.Messages(a3), std::vector<std::string>{"for alice"});
}

TEST(GatewayTokenKeyTest, Es256PublicKeyFromFile) {
  TestKeys keys;
  BrokerProcess broker = BrokerProcess::Start();
  GatewayProcess gw = GatewayProcess::Start(
      broker.port, {"--token_public_key=" + keys.ec_public_path});
  WsTestClients ws;
  const int ok = ws.Connect(
      gw.uri() + "/?token=" +
      MintToken("ES256", keys.ec_private, R"({"sub":"eve","groups":["g"]})"));
  ASSERT_GE(ok, 0);
  EXPECT_EQ(ws.Request(ok, R"({"cmd":"add_group","group_id":"g","id":1})", "1"),
            Ok(1));
  // An HS256 token signed with the public key's text: refused.
  const int confused = ws.Connect(
      gw.uri() + "/?token=" +
      MintToken("HS256", keys.ec_public, R"({"sub":"eve","groups":["g"]})"));
  auto code = ws.WaitClosed(confused);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 4001);
  EXPECT_NE(ws.CloseReason(confused).find("alg_not_allowed"),
            std::string::npos);
}

// Issue 19 item 8: a user channel the broker refuses (its link is at its
// channel limit: "all", its node channel, alice's and her group) must not
// leave the user unreachable without a sign: the connection is closed with
// 1013.
TEST(GatewayUserChannelTest, RefusedUserChannelClosesItsConnection) {
  BrokerProcess broker = BrokerProcess::Start({"--max_channels_per_link=4"});
  GatewayProcess gw =
      GatewayProcess::Start(broker.port, {"--token_hmac_secret=" + kSecret});
  WsTestClients ws;
  const int alice =
      ws.Connect(gw.uri() + "/?token=" + Token("alice", R"("groups":["x"])"));
  ASSERT_GE(alice, 0);
  // alice is reachable as herself.
  TestBrokerClient pub(broker.port);
  ASSERT_TRUE(pub.WaitConnected());
  // Her join is subscribed after her user channel (one link, in order).
  ASSERT_EQ(
      ws.Request(alice, R"({"cmd":"add_group","group_id":"x","id":1})", "1"),
      Ok(1));
  EXPECT_EQ(*pub.Publish("user:alice", "hi alice"), 1u);
  const int bob = ws.Connect(gw.uri() + "/?token=" + Token("bob"));
  ASSERT_GE(bob, 0);
  EXPECT_EQ(ws.WaitClosed(bob), 1013);
  EXPECT_NE(ws.CloseReason(bob).find("user's broker channel"),
            std::string::npos)
      << ws.CloseReason(bob);
  EXPECT_TRUE(ws.IsOpen(alice));
}

}  // namespace
}  // namespace channel::testing
