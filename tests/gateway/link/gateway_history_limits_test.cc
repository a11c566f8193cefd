// History through real daemons at its bounds: reads and resumes per
// connection bounded, many groups and huge messages within the memory
// bound; latest value, tokens, the HTTP API and channel-cli.
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
