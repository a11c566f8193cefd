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
#include "tests/support/clients/test_broker_client.h"
#include "tests/support/clients/ws_test_clients.h"
#include "tests/support/credentials/test_tokens.h"

namespace channel::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

uint64_t OffsetOf(const std::string& json) {
  std::smatch m;
  return std::regex_search(json, m, std::regex(R"("offset":(\d+))"))
             ? std::stoull(m[1])
             : 0;
}
std::string EpochOf(const std::string& json) {
  std::smatch m;
  return std::regex_search(json, m, std::regex(R"("epoch":"([^"]*)\")"))
             ? std::string(m[1])
             : "";
}
std::string MessageOf(const std::string& json) {
  std::smatch m;
  return std::regex_search(json, m, std::regex(R"("message":"([^"]*)\")"))
             ? std::string(m[1])
             : "";
}
bool IsDelivery(const std::string& m) {
  return m.rfind(R"({"type":"message")", 0) == 0;
}
std::vector<std::string> Deliveries(const std::vector<std::string>& got) {
  std::vector<std::string> out;
  for (const auto& m : got) {
    if (IsDelivery(m)) out.push_back(m);
  }
  return out;
}
std::string JoinSince(const std::string& group, int id, uint64_t offset,
                      const std::string& epoch) {
  return absl::StrCat(R"({"cmd":"add_group","group_id":")", group, R"(","id":)",
                      id, R"(,"since":{"offset":)", offset, R"(,"epoch":")",
                      epoch, R"("}})");
}
std::string History(const std::string& group, int id, const std::string& more) {
  return absl::StrCat(R"({"cmd":"history","group_id":")", group, R"(","id":)",
                      id, more, "}");
}

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

// Reads one connection can have waiting are bounded (the rest refused,
// every one answered once); resumes beyond the bound wait their turn and
// all finish; a bystander's messages flow meanwhile.
TEST(GatewayHistoryTest, ReadsAndResumesPerConnectionAreBounded) {
  BrokerProcess broker = BrokerProcess::Start({"--history=h-*:size=300"});
  GatewayProcess gw = GatewayProcess::Start(broker.port, kNoRateLimit);
  TestBrokerClient pub(broker.port);
  ASSERT_TRUE(pub.WaitConnected());
  const std::string big(20000, 'x');
  for (int i = 1; i <= 100; ++i) {
    ASSERT_TRUE(pub.Publish("group:h-7", absl::StrCat(i, big)).ok());
  }
  WsTestClients ws;
  const int greedy = ws.Connect(gw.uri() + "/?format=json");
  const int bystander = ws.Connect(gw.uri());
  ASSERT_EQ(ws.Request(bystander, Join("other", 1), "1"),
            R"({"id":1,"ok":true})");
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(ws.Send(greedy, History("h-7", i, R"(,"limit":300)")));
  }
  ASSERT_TRUE(pub.Publish("group:other", "still here").ok());
  EXPECT_EQ(ws.WaitForMessages(bystander, 2).back(), "still here");
  const auto got = ws.WaitForMessages(greedy, 20, seconds(20));
  ASSERT_EQ(got.size(), 20u);
  int pages = 0, refused = 0;
  for (const std::string& m : got) {
    if (Has(m, R"("code":"rate_limited")")) ++refused;
    if (Has(m, R"("messages":[)")) {
      ++pages;
      // Cut at half of --max_queued_bytes (1 MiB): the newest ~26 of 100.
      EXPECT_TRUE(Has(m, R"("truncated":true)"));
      EXPECT_LT(m.size(), 600000u);
    }
  }
  EXPECT_EQ(pages + refused, 20);
  EXPECT_GE(pages, 4);
  EXPECT_GE(refused, 1);
  // Resumes of many groups at once: all answered, none refused.
  const int many = ws.Connect(gw.uri() + "/?format=json");
  const std::string epoch =
      EpochOf(ws.Request(many, History("h-7", 1, ""), "1"));
  for (int g = 0; g < 12; ++g) {
    ASSERT_TRUE(ws.Send(
        many, JoinSince(absl::StrCat("h-g", g), 100 + g, 0, "other-epoch")));
  }
  ASSERT_TRUE(ws.Send(many, JoinSince("h-7", 200, 99, epoch)));
  const auto replies = ws.WaitForMessages(many, 1 + 13 + 1, seconds(20));
  ASSERT_EQ(replies.size(), 15u);
  int recovered = 0, not_recovered = 0;
  for (const std::string& m : replies) {
    recovered += Has(m, R"("recovered":true)");
    not_recovered += Has(m, R"("recovered":false)");
  }
  EXPECT_EQ(recovered, 1);
  EXPECT_EQ(not_recovered, 12);
  EXPECT_EQ(OffsetOf(replies.back()), 100u);  // the one it missed
}

// What history can be made to hold is bounded whatever the input: 100,000
// history groups and 1 MB messages stay within --history_max_bytes (the
// oldest go, counted), reads stay within their bound, and a bystander's
// messages flow meanwhile.
TEST(GatewayHistoryTest, ManyGroupsAndHugeMessagesStayWithinTheBound) {
  constexpr double kBound = 16 << 20;
  BrokerProcess broker = BrokerProcess::Start(
      {"--history=*:size=100", "--history_max_bytes=16777216"});
  GatewayProcess gw = GatewayProcess::Start(broker.port, kNoRateLimit);
  WsTestClients ws;
  const int bystander = ws.Connect(gw.uri());
  ASSERT_TRUE(Has(ws.Request(bystander, Join("quiet", 1), "1"),
                  R"({"id":1,"ok":true,)"));
  TestBrokerClient pub(broker.port);
  ASSERT_TRUE(pub.WaitConnected());
  std::vector<std::string> channels;
  for (int batch = 0; batch < 100; ++batch) {
    channels.clear();
    for (int i = 0; i < 1000; ++i) {
      channels.push_back(absl::StrCat("group:g", batch * 1000 + i));
    }
    ASSERT_TRUE(pub.PublishMany(channels, "hello").ok());
  }
  EXPECT_LE(broker.Metric("channel_broker_history_bytes"), kBound);
  EXPECT_GT(broker.Metric("channel_broker_history_streams"), 1000);
  const std::string huge(1 << 20, 'h');
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(pub.Publish("group:big", absl::StrCat(i, huge)).ok());
  }
  EXPECT_LE(broker.Metric("channel_broker_history_bytes"), kBound);
  EXPECT_GT(broker.Metric(
                R"(channel_broker_history_dropped_total{reason="max_bytes"})"),
            0);
  ASSERT_TRUE(pub.Publish("group:quiet", "still here").ok());
  EXPECT_EQ(ws.WaitForMessages(bystander, 2).back(), "still here");
  // A read of the huge ones is cut at the gateway's bound (half of
  // --max_queued_bytes), never a 16 MB reply.
  const int reader = ws.Connect(gw.uri() + "/?format=json");
  const std::string r =
      ws.Request(reader, History("big", 1, R"(,"limit":100)"), "1");
  EXPECT_TRUE(Has(r, R"("truncated":true)")) << r.substr(0, 200);
  EXPECT_LT(r.size(), 600000u);
}

// Latest value (size=1), permissions with tokens, the HTTP API and
// channel-cli read the same history; sends from a browser get offsets too.
TEST(GatewayHistoryTest, LatestValueTokensApiAndCli) {
  const std::string secret = "0123456789abcdef0123456789abcdef";
  BrokerProcess broker = BrokerProcess::Start({"--history=ticker-*:size=1",
                                               "--history=h-*:size=100",
                                               "--api_port=0", "--api_key=k"});
  const int api_port = broker.process->WaitForPort("api listening on");
  GatewayProcess gw =
      GatewayProcess::Start(broker.port, {"--token_hmac_secret=" + secret,
                                          "--rate_limit_per_sec=100000",
                                          "--rate_limit_burst=100000"});
  const std::string token =
      MintToken("HS256", secret,
                R"({"sub":"ann","groups":["ticker-*","h-*"],"send":["h-*"]})");
  WsTestClients ws;
  const int c = ws.Connect(gw.uri() + "/?format=json&token=" + token);
  ASSERT_GE(c, 0);
  TestBrokerClient pub(broker.port);
  ASSERT_TRUE(pub.WaitConnected());
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(pub.Publish("group:ticker-eur", absl::StrCat("p", i)).ok());
  }
  std::string r = ws.Request(c, History("ticker-eur", 1, R"(,"limit":1)"), "1");
  EXPECT_TRUE(Has(r, R"("offset":5,"epoch")")) << r;
  EXPECT_TRUE(Has(r, R"("messages":[{"offset":5,"message":"p5"}])")) << r;
  r = ws.Request(c, History("vip", 2, ""), "2");
  EXPECT_TRUE(Has(r, R"("code":"forbidden")")) << r;
  // A browser's send to a history group: the member (the sender) gets it
  // once, with its offset, and history has it with its sender.
  ASSERT_TRUE(Has(ws.Request(c, Join("h-6", 3), "3"), R"("offset":0)"));
  r = ws.Request(
      c, R"({"cmd":"send_to_group","group_id":"h-6","message":"hi","id":4})",
      "4");
  EXPECT_EQ(r, R"({"id":4,"ok":true})");
  const auto got = ws.WaitForMessages(c, 5);
  ASSERT_EQ(Deliveries(got).size(), 1u);
  EXPECT_TRUE(
      Has(Deliveries(got)[0], R"("message":"hi","from":"ann","offset":1)"))
      << Deliveries(got)[0];
  // The HTTP API.
  httplib::Client api("127.0.0.1", api_port);
  const httplib::Headers auth = {{"Authorization", "Bearer k"}};
  auto res = api.Get("/api/history?group_id=h-6&limit=10", auth);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(Has(res->body, R"("group_id":"h-6","offset":1,"epoch":")"))
      << res->body;
  EXPECT_TRUE(Has(res->body, R"({"offset":1,"message":"hi","from":"ann"})"))
      << res->body;
  res = api.Get("/api/history?group_id=lobby", auth);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_TRUE(Has(res->body, "history_not_enabled")) << res->body;
  res = api.Get("/api/history?group_id=h-6&limit=x", auth);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  // channel-cli.
  const std::string cli =
      absl::StrCat(CHANNEL_CLI_BIN, " --broker=127.0.0.1:", broker.port,
                   " --limit=2 history ticker-eur 2>/dev/null");
  FILE* out = ::popen(cli.c_str(), "r");
  ASSERT_NE(out, nullptr);
  char line[128] = {};
  ASSERT_NE(std::fgets(line, sizeof(line), out), nullptr);
  EXPECT_EQ(::pclose(out), 0);
  EXPECT_STREQ(line, "5\tp5\n");
}

}  // namespace
}  // namespace channel::testing
