// History and recovery through real daemons (issue 21,
// docs/CLIENT-PROTOCOL.md "History"): a member that comes back with since
// gets exactly what it missed, in order, then the live stream, with nothing
// twice at the seam; too far behind or after a broker restart it is told
// (recovered:false, gap naming the group); a gateway whose link is cut
// while the broker lives resumes its members invisibly; latest value;
// tokens; the HTTP API and channel-cli; inputs that cost.
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/gateway/gateway_fixture.h"
#include "tests/gateway/link/history_json.h"
#include "tests/support/clients/test_broker_client.h"
#include "tests/support/clients/ws_test_clients.h"
#include "tests/support/credentials/test_tokens.h"

namespace channel::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A member leaves, 50 messages are sent, it comes back with since while a
// publisher keeps sending: it gets every offset after since exactly once and
// in order, whatever the interleaving of the live stream with the recovery.
TEST(GatewayHistoryTest, ResumeIsExactAcrossTheSeamWhileMessagesFlow) {
  BrokerProcess broker =
      BrokerProcess::Start({"--history=h-*:size=1000,ttl=300s"});
  GatewayProcess gw = GatewayProcess::Start(broker.port, kNoRateLimit);
  WsTestClients ws;
  const int a = ws.Connect(gw.uri() + "/?format=json");
  ASSERT_GE(a, 0);
  const std::string joined = ws.Request(a, Join("h-1", 1), "1");
  ASSERT_TRUE(Has(joined, R"("ok":true,"offset":0,"epoch":")")) << joined;
  TestBrokerClient pub(broker.port);
  ASSERT_TRUE(pub.WaitConnected());
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(pub.Publish("group:h-1", absl::StrCat("m", i)).ok());
  }
  const auto first = ws.WaitForMessages(a, 11);
  ASSERT_EQ(first.size(), 11u);
  EXPECT_EQ(OffsetOf(first.back()), 10u);
  // The stream's epoch, from its first event on (the join's was "no event
  // yet in this broker").
  const std::string epoch = EpochOf(first.back());
  EXPECT_EQ(EpochOf(first[1]), epoch);
  ws.Close(a);
  for (int i = 11; i <= 60; ++i) {
    ASSERT_TRUE(pub.Publish("group:h-1", absl::StrCat("m", i)).ok());
  }
  // The live stream goes on while the member comes back.
  TestBrokerClient live(broker.port);
  ASSERT_TRUE(live.WaitConnected());
  std::thread flow([&live] {
    for (int i = 61; i <= 160; ++i) {
      if (!live.Publish("group:h-1", absl::StrCat("m", i)).ok()) return;
    }
  });
  const int b = ws.Connect(gw.uri() + "/?format=json");
  ASSERT_GE(b, 0);
  ASSERT_TRUE(ws.Send(b, JoinSince("h-1", 2, 10, epoch)));
  flow.join();
  const auto got = ws.WaitForMessages(b, 151, seconds(20));
  ASSERT_EQ(got.size(), 151u) << absl::StrJoin(got, "\n");
  EXPECT_EQ(got[0].rfind(R"({"id":2,"ok":true,"recovered":true)", 0), 0u)
      << got[0];
  const auto deliveries = Deliveries(got);
  ASSERT_EQ(deliveries.size(), 150u);
  for (size_t i = 0; i < deliveries.size(); ++i) {
    EXPECT_EQ(OffsetOf(deliveries[i]), 11 + i) << deliveries[i];
    EXPECT_EQ(MessageOf(deliveries[i]), absl::StrCat("m", 11 + i));
  }
  // Nothing more is owed: the next live one is the next offset.
  ASSERT_TRUE(pub.Publish("group:h-1", "m161").ok());
  const auto more = ws.WaitForMessages(b, 152);
  ASSERT_EQ(more.size(), 152u);
  EXPECT_EQ(OffsetOf(more.back()), 161u);
  EXPECT_EQ(
      gw.Metric(R"(channel_gateway_recoveries_total{result="recovered"})"), 1);
}

// Too far behind, another epoch, a group without history: told
// recovered:false, nothing replayed, the live stream goes on. Limits and
// malformed input get clear errors.
TEST(GatewayHistoryTest, NotRecoverableIsToldNeverPartial) {
  BrokerProcess broker = BrokerProcess::Start(
      {"--history=h-*:size=1000", "--history_recover_max=20"});
  GatewayProcess gw = GatewayProcess::Start(broker.port, kNoRateLimit);
  TestBrokerClient pub(broker.port);
  ASSERT_TRUE(pub.WaitConnected());
  for (int i = 1; i <= 30; ++i) {
    ASSERT_TRUE(pub.Publish("group:h-2", absl::StrCat("m", i)).ok());
  }
  WsTestClients ws;
  const int c = ws.Connect(gw.uri() + "/?format=json");
  const std::string hist = ws.Request(c, History("h-2", 1, ""), "1");
  const std::string epoch = EpochOf(hist);
  ASSERT_FALSE(epoch.empty()) << hist;
  // 30 behind, 20 at most: not recovered, nothing replayed.
  std::string r = ws.Request(c, JoinSince("h-2", 2, 0, epoch), "2");
  EXPECT_EQ(r, absl::StrCat(R"({"id":2,"ok":true,"recovered":false,)",
                            R"("offset":30,"epoch":")", epoch, R"("})"));
  ASSERT_TRUE(pub.Publish("group:h-2", "m31").ok());
  auto got = ws.WaitForMessages(c, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(OffsetOf(got[2]), 31u) << got[2];
  // Another epoch; an offset from the future; a group without history.
  r = ws.Request(c, JoinSince("h-3", 3, 0, "not-the-epoch"), "3");
  EXPECT_TRUE(Has(r, R"("recovered":false)")) << r;
  r = ws.Request(c, JoinSince("h-2", 4, 1ull << 60, epoch), "4");
  EXPECT_TRUE(Has(r, R"("recovered":false)")) << r;
  r = ws.Request(c, JoinSince("lobby", 5, 3, epoch), "5");
  EXPECT_EQ(r, R"({"id":5,"ok":true,"recovered":false})");
  // A limit of 10^9 is capped at --history_recover_max.
  r = ws.Request(c, History("h-2", 6, R"(,"limit":1000000000)"), "6");
  EXPECT_EQ(std::count(r.begin(), r.end(), '{') - 1, 20) << r;
  EXPECT_TRUE(Has(r, R"({"offset":12,"message":"m12"})")) << r;
  r = ws.Request(c, History("h-2", 7, R"(,"limit":3,"before":5)"), "7");
  EXPECT_TRUE(Has(r, R"("messages":[{"offset":2,"message":"m2"},)"
                     R"({"offset":3,"message":"m3"},{"offset":4,)"))
      << r;
  // Clear errors.
  r = ws.Request(c, History("lobby", 8, ""), "8");
  EXPECT_TRUE(Has(r, R"("code":"history_not_enabled")")) << r;
  r = ws.Request(c, History("h-2", 9, R"(,"limit":0)"), "9");
  EXPECT_TRUE(Has(r, R"("code":"invalid_field")")) << r;
  r = ws.Request(
      c,
      R"({"cmd":"add_group","group_id":"h-2","since":{"offset":-1},"id":10})",
      "10");
  EXPECT_TRUE(Has(r, R"("code":"invalid_field")")) << r;
  r = ws.Request(c,
                 absl::StrCat(R"({"cmd":"add_group","group_id":"h-2","since":)",
                              R"({"offset":1,"epoch":")", std::string(100, 'e'),
                              R"("},"id":11})"),
                 "11");
  EXPECT_TRUE(Has(r, R"("code":"invalid_field")")) << r;
}

// A lone broker restarts: its history is gone. Members are told which of
// their groups may have missed messages (history ones too: new epoch), the
// next delivery carries the new epoch, and a since of the old epoch is
// answered recovered:false.
TEST(GatewayHistoryTest, BrokerRestartIsAGapNamingTheGroups) {
  BrokerProcess broker = BrokerProcess::Start({"--history=h-*:size=100"});
  const int port = broker.port;
  GatewayProcess gw = GatewayProcess::Start(port, kNoRateLimit);
  WsTestClients ws;
  const int c = ws.Connect(gw.uri() + "/?format=json");
  const std::string joined = ws.Request(c, Join("h-4", 1), "1");
  const std::string old_epoch = EpochOf(joined);
  ASSERT_EQ(ws.Request(c, Join("lobby", 2), "2"), R"({"id":2,"ok":true})");
  size_t from = 0;
  broker.process->Signal(SIGKILL);
  ASSERT_TRUE(broker.process->Wait(seconds(10)));
  ASSERT_TRUE(gw.process->WaitForLine("broker link down", seconds(10), &from));
  BrokerProcess again = BrokerProcess::Start({"--history=h-*:size=100"}, port);
  auto got = ws.WaitForMessages(c, 3, seconds(20));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(Has(got[2], R"({"type":"gap")")) << got[2];
  EXPECT_TRUE(Has(got[2], R"("h-4")")) << got[2];
  EXPECT_TRUE(Has(got[2], R"("lobby")")) << got[2];
  EXPECT_TRUE(Has(got[2], R"("all":true)")) << got[2];
  TestBrokerClient pub(again.port);
  ASSERT_TRUE(pub.WaitConnected());
  // The restart's grace may refuse the first tries (BACKPRESSURE).
  const auto deadline = std::chrono::steady_clock::now() + seconds(20);
  while (!pub.Publish("group:h-4", "after").ok() &&
         std::chrono::steady_clock::now() < deadline) {
  }
  got = ws.WaitForMessages(c, 4);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(OffsetOf(got[3]), 1u) << got[3];
  EXPECT_NE(EpochOf(got[3]), old_epoch);
  const int d = ws.Connect(gw.uri() + "/?format=json");
  const std::string r = ws.Request(d, JoinSince("h-4", 1, 0, old_epoch), "1");
  EXPECT_TRUE(Has(r, R"("recovered":false)")) << r;
}

// The gateway's link is cut while the broker lives (the broker closes it
// as idle while the gateway is stopped): on the next link the gateway
// resumes its history group from the last offset it delivered, so its
// member gets every message once, in order, and hears of no gap.
TEST(GatewayHistoryTest, LinkCutWhileTheBrokerLivesIsInvisibleToMembers) {
  BrokerProcess broker = BrokerProcess::Start({"--history=h-*:size=1000",
                                               "--heartbeat_interval_ms=100",
                                               "--idle_timeout_ms=600"});
  GatewayProcess gw = GatewayProcess::Start(broker.port, kNoRateLimit);
  WsTestClients ws;
  const int c = ws.Connect(gw.uri() + "/?format=json");
  ASSERT_TRUE(Has(ws.Request(c, Join("h-5", 1), "1"), R"("offset":0)"));
  TestBrokerClient pub(broker.port);
  ASSERT_TRUE(pub.WaitConnected());
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(pub.Publish("group:h-5", absl::StrCat("m", i)).ok());
  }
  ASSERT_EQ(ws.WaitForMessages(c, 21).size(), 21u);
  size_t from = 0;
  gw.process->Signal(SIGSTOP);
  for (int i = 21; i <= 60; ++i) {
    ASSERT_TRUE(pub.Publish("group:h-5", absl::StrCat("m", i)).ok());
  }
  const bool cut =
      broker.process->WaitForLine("nothing received for", seconds(10), &from)
          .has_value();
  gw.process->Signal(SIGCONT);
  ASSERT_TRUE(cut) << broker.process->Output();
  ASSERT_TRUE(gw.process->WaitForLine("broker link up", seconds(10)));
  for (int i = 61; i <= 70; ++i) {
    ASSERT_TRUE(pub.Publish("group:h-5", absl::StrCat("m", i)).ok());
  }
  const auto got = ws.WaitForMessages(c, 71, seconds(20));
  ASSERT_EQ(got.size(), 71u) << absl::StrJoin(got, "\n").substr(0, 3000);
  const auto deliveries = Deliveries(got);
  ASSERT_EQ(deliveries.size(), 70u) << absl::StrJoin(got, "\n");
  for (size_t i = 0; i < deliveries.size(); ++i) {
    EXPECT_EQ(MessageOf(deliveries[i]), absl::StrCat("m", i + 1));
  }
  EXPECT_EQ(gw.Metric("channel_gateway_gap_notices_total"), 0);
  EXPECT_GE(
      broker.Metric(
          R"(channel_broker_history_recoveries_total{result="recovered"})"),
      1);
}

}  // namespace
}  // namespace channel::testing
