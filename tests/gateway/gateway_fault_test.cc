// Faults with many clients: the broker killed, the broker frozen, a gateway
// killed. Real processes, real WebSocket clients.
#include <signal.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/gateway/gateway_fixture.h"
#include "tests/support/clients/ws_test_clients.h"

namespace channel::testing {
namespace {

using std::chrono::seconds;

TEST(GatewayFaultTest, BrokerSigkillWithThousandClientsThenRestart) {
  BrokerProcess broker = BrokerProcess::Start();
  const int port = broker.port;
  GatewayProcess gw1 = GatewayProcess::Start(port);
  GatewayProcess gw2 = GatewayProcess::Start(port);
  WsTestClients ws;
  constexpr int kClients = 1000;
  constexpr int kGroups = 10;
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) {
    // Every group has members on both gateways.
    const int c = ws.Connect((i / kGroups) % 2 ? gw2.uri() : gw1.uri());
    ASSERT_GE(c, 0) << i;
    ASSERT_TRUE(ws.Send(c, absl::StrCat(R"({"cmd":"add_group","group_id":"f)",
                                        i % kGroups, R"(","id":1})")));
    clients.push_back(c);
  }
  for (int c : clients) ASSERT_EQ(ws.WaitForMessages(c, 1)[0], Ok(1));

  size_t from1 = 0, from2 = 0;
  broker.process->Signal(SIGKILL);
  ASSERT_TRUE(broker.process->Wait(seconds(10)));
  ASSERT_TRUE(
      gw1.process->WaitForLine("broker link down", seconds(10), &from1));
  ASSERT_TRUE(
      gw2.process->WaitForLine("broker link down", seconds(10), &from2));
  BrokerProcess again = BrokerProcess::Start({}, port);
  ASSERT_TRUE(gw1.process->WaitForLine("broker link up; 10 group", seconds(20),
                                       &from1));
  ASSERT_TRUE(gw2.process->WaitForLine("broker link up; 10 group", seconds(20),
                                       &from2));
  EXPECT_TRUE(gw1.process->running());
  EXPECT_TRUE(gw2.process->running());

  for (int g = 0; g < kGroups; ++g) {
    // clients[g] is in group f<g>; it sends to its own group.
    ASSERT_EQ(
        ws.Request(clients[g],
                   absl::StrCat(R"({"cmd":"send_to_group","group_id":"f)", g,
                                R"(","message":"after-)", g, R"(","id":2})"),
                   "2"),
        Ok(2));
  }
  for (int i = 0; i < kClients; ++i) {
    // The join's ack, the notice that messages may have been missed while
    // the link was down (never a silent gap), the message; senders also
    // got their ack.
    const size_t want = i < kGroups ? 4 : 3;
    auto got = ws.WaitForMessages(clients[i], want);
    ASSERT_EQ(got.size(), want) << "client " << i;
    EXPECT_NE(got[1].find(R"("code":"gap")"), std::string::npos)
        << "client " << i << ": " << got[1];
    EXPECT_NE(
        std::find(got.begin(), got.end(), absl::StrCat("after-", i % kGroups)),
        got.end())
        << "client " << i;
  }
  EXPECT_EQ(gw1.Metric("channel_gateway_gap_notices_total") +
                gw2.Metric("channel_gateway_gap_notices_total"),
            kClients);
  // Per gateway: "all", its node channel, and every group.
  EXPECT_EQ(again.Metric("channel_broker_subscriptions"), 4 + 2 * kGroups);
}

TEST(GatewayFaultTest, BrokerFrozenDetectedByHeartbeatAndRecovered) {
  BrokerProcess broker = BrokerProcess::Start(
      {"--heartbeat_interval_ms=200", "--idle_timeout_ms=1000"});
  GatewayProcess gw = GatewayProcess::Start(broker.port);
  WsTestClients ws;
  const int a = ws.Connect(gw.uri());
  ASSERT_GE(a, 0);
  ASSERT_EQ(ws.Request(a, R"({"cmd":"add_group","group_id":"z","id":1})", "1"),
            Ok(1));
  EXPECT_EQ(HttpGet(gw.admin_port, "/readyz").status, 200);

  size_t from = 0;
  broker.process->Signal(SIGSTOP);
  const auto stopped = std::chrono::steady_clock::now();
  ASSERT_TRUE(
      gw.process->WaitForLine("broker silent for 1000 ms", seconds(10), &from));
  // Detected within the timeout plus one heartbeat check.
  EXPECT_LT(std::chrono::steady_clock::now() - stopped,
            std::chrono::milliseconds(2500));
  EXPECT_EQ(HttpGet(gw.admin_port, "/readyz").status, 503);
  std::string reply = ws.Request(
      a, R"({"cmd":"send_to_group","group_id":"z","message":"x","id":2})", "2");
  EXPECT_NE(reply.find("broker_unavailable"), std::string::npos) << reply;

  broker.process->Signal(SIGCONT);
  ASSERT_TRUE(gw.process->WaitForLine("broker link up", seconds(10), &from));
  EXPECT_EQ(HttpGet(gw.admin_port, "/readyz").status, 200);
  ASSERT_EQ(
      ws.Request(
          a,
          R"({"cmd":"send_to_group","group_id":"z","message":"back","id":3})",
          "3"),
      Ok(3));
  // The sender's own copy is delivered locally, so it may come before or
  // after the {"ok":true}; before both, the gap notice of the recovery.
  auto got = ws.WaitForMessages(a, 5);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_NE(got[2].find(R"("code":"gap")"), std::string::npos) << got[2];
  EXPECT_NE(std::find(got.end() - 2, got.end(), "back"), got.end());
}

TEST(GatewayFaultTest, GatewayKilledBrokerDropsItsSubscriptions) {
  BrokerProcess broker = BrokerProcess::Start();
  GatewayProcess gw1 = GatewayProcess::Start(broker.port);
  GatewayProcess gw2 = GatewayProcess::Start(broker.port);
  WsTestClients ws;
  const int a = ws.Connect(gw1.uri());
  const int b = ws.Connect(gw2.uri());
  ASSERT_EQ(ws.Request(a, R"({"cmd":"add_group","group_id":"k1","id":1})", "1"),
            Ok(1));
  ASSERT_EQ(ws.Request(a, R"({"cmd":"add_group","group_id":"k2","id":2})", "2"),
            Ok(2));
  ASSERT_EQ(ws.Request(b, R"({"cmd":"add_group","group_id":"k2","id":3})", "3"),
            Ok(3));
  // 2 x (all + the worker's node channel) + 3 groups.
  EXPECT_EQ(broker.Metric("channel_broker_subscriptions"), 7);
  EXPECT_EQ(broker.Metric("channel_broker_connections"), 2);

  size_t from = 0;
  gw1.process->Signal(SIGKILL);
  ASSERT_TRUE(broker.process->WaitForLine(
      "'ws-gateway/[0-9a-f]+/[0-9]+'\\) closed", seconds(10), &from));
  EXPECT_EQ(broker.Metric("channel_broker_connections"), 1);
  // gw2: all + its node channel + k2.
  EXPECT_EQ(broker.Metric("channel_broker_subscriptions"), 3);
  EXPECT_EQ(broker.Metric("channel_broker_channels"), 3);
  // gw2 keeps working.
  ASSERT_EQ(
      ws.Request(
          b,
          R"({"cmd":"send_to_group","group_id":"k2","message":"still","id":4})",
          "4"),
      Ok(4));
  auto got = ws.WaitForMessages(b, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_NE(std::find(got.end() - 2, got.end(), "still"), got.end());
}

}  // namespace
}  // namespace channel::testing
