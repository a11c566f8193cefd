// The application's seat under one large input and one large burst (issue
// 22): what a bystander on the same gateway worker sees (its round trips
// answered, its messages intact) while an attacker sends 1 MiB custom
// commands, and while a backend fires 100,000 actions at once.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/gateway/gateway_fixture.h"
#include "tests/support/clients/test_broker_client.h"
#include "tests/support/clients/ws_test_clients.h"

namespace channel::testing {
namespace {

using std::chrono::seconds;

std::string ClientOf(const std::string& whoami_reply) {
  const size_t at = whoami_reply.find(R"("client":")");
  if (at == std::string::npos) return "";
  const size_t start = at + 10;
  return whoami_reply.substr(start, whoami_reply.find('"', start) - start);
}

// 20 round trips of the bystander, each answered.
void BystanderRoundTrips(WsTestClients& ws, int bystander) {
  for (int i = 0; i < 20; ++i) {
    const std::string id = std::to_string(1000 + i);
    EXPECT_EQ(
        ws.Request(bystander, absl::StrCat(R"({"cmd":"whoami","id":)", id, "}"),
                   id, seconds(30))
                .find(R"("ok":true)") != std::string::npos,
        true)
        << "round trip " << i;
  }
}

TEST(AppEventsFloodTest,
     MegabyteCommandsReachTheBackendWholeWithoutStallingOthers) {
  BrokerProcess broker = BrokerProcess::Start();
  GatewayProcess gw = GatewayProcess::Start(
      broker.port, {"--events", "--max_message_bytes=2000000"});
  TestBrokerClient backend(broker.port);
  ASSERT_TRUE(backend.WaitConnected());
  ASSERT_TRUE(backend.SubscribeQueue("backend", {"app:events"}).ok());
  WsTestClients ws;
  const int attacker = ws.Connect(gw.uri());
  const int bystander = ws.Connect(gw.uri());
  ASSERT_GE(attacker, 0);
  ASSERT_GE(bystander, 0);
  const std::string big = absl::StrCat(R"({"cmd":"upload","data":")",
                                       std::string(1 << 20, 'x'), R"("})");
  constexpr int kBig = 8;
  for (int i = 0; i < kBig; ++i) ASSERT_TRUE(ws.Send(attacker, big));
  BystanderRoundTrips(ws, bystander);
  // Every big command either reached the backend whole or was refused to
  // the attacker (its byte budget: 2 MiB/s, burst 4 MB): none vanished.
  size_t whole = 0;
  for (int round = 0; round < 100; ++round) {
    whole = 0;
    for (const ReceivedEvent& e : backend.Events()) {
      if (absl::StrContains(e.payload, R"("cmd":"upload")")) {
        EXPECT_GT(e.payload.size(), big.size());
        ++whole;
      }
    }
    size_t refused = 0;
    for (const std::string& m : ws.Messages(attacker)) {
      refused += absl::StrContains(m, "rate_limited") ? 1 : 0;
    }
    if (whole + refused == kBig) break;
    backend.WaitForEvents(backend.EventCount() + 1,
                          std::chrono::milliseconds(100));
  }
  EXPECT_GE(whole, 3u);  // the burst lets at least three through
}

TEST(AppEventsFloodTest, AHundredThousandActionsInABurstLeaveABystanderServed) {
  BrokerProcess broker = BrokerProcess::Start();
  GatewayProcess gw = GatewayProcess::Start(broker.port, {"--threads=1"});
  WsTestClients ws;
  const int target = ws.Connect(gw.uri());
  const int bystander = ws.Connect(gw.uri());
  ASSERT_GE(target, 0);
  ASSERT_GE(bystander, 0);
  const std::string client =
      ClientOf(ws.Request(target, R"({"cmd":"whoami","id":1})", "1"));
  ASSERT_FALSE(client.empty());
  const std::string node = "app:node:" + client.substr(0, client.rfind('.'));
  TestBrokerClient backend(broker.port);
  ASSERT_TRUE(backend.WaitConnected());
  ASSERT_TRUE(backend.Subscribe({"app:reply:flood"}).ok());
  // Half of them malformed, half messages to one connection.
  constexpr int kActions = 100000;
  const std::string send = absl::StrCat(R"({"action":"send","client":")",
                                        client, R"(","message":"burst"})");
  int published = 0;
  for (int i = 0; i < kActions; ++i) {
    if (backend.PublishNoWait(node, i % 2 == 0 ? send : "{garbage").ok()) {
      ++published;
    }
  }
  BystanderRoundTrips(ws, bystander);
  // An answered action after the burst (one publisher: in order) means the
  // gateway has been through all of it.
  ASSERT_TRUE(
      backend
          .Publish(node, absl::StrCat(R"({"action":"info","client":")", client,
                                      R"(","reply_to":"app:reply:flood"})"))
          .ok());
  ASSERT_EQ(backend.WaitForEvents(1, seconds(60)).size(), 1u);
  EXPECT_EQ(gw.Metric("channel_gateway_app_actions_total"), published + 1);
  EXPECT_EQ(gw.Metric("channel_gateway_app_actions_invalid_total"),
            published / 2);
  // The target got its messages, or was closed as a slow client (it reads
  // them here on one thread): never a stalled gateway.
  const size_t got = ws.MessageCount(target);
  EXPECT_TRUE(got >= static_cast<size_t>(published / 2) ||
              gw.Metric("channel_gateway_slow_client_closes_total") == 1)
      << got << " of " << published / 2;
  EXPECT_EQ(published, kActions);
}

}  // namespace
}  // namespace channel::testing
