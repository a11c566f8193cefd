// The broker's HTTP API against real processes: a broker with --api_port,
// two gateways, WebSocket clients; requests with cpp-httplib's client
// (keep-alive).
#include <httplib.h>
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/gateway/gateway_fixture.h"
#include "tests/support/clients/ws_test_clients.h"
#include "tests/support/credentials/test_tokens.h"
#include "tests/support/sockets/loopback.h"

namespace channel::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kKey = "test-api-key-0123456789";

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = BrokerProcess::Start(
        {"--api_port=0", "--api_key=" + kKey, "--api_max_body_bytes=4096"});
    api_port_ = broker_.process->WaitForPort("api listening on");
    client_ = std::make_unique<httplib::Client>("127.0.0.1", api_port_);
    client_->set_keep_alive(true);
    client_->set_tcp_nodelay(true);
    headers_ = {{"Authorization", "Bearer " + kKey}};
  }
  httplib::Result Post(const std::string& body) {
    return client_->Post("/api/publish", headers_, body, "application/json");
  }
  std::string Presence(const std::string& group) {
    auto r =
        client_->Get(("/api/presence?group_id=" + group).c_str(), headers_);
    return r ? r->body : "";
  }
  // Polls until presence of `group` reads `want` (gateways report in
  // batches, within a second) or 10 s pass.
  bool WaitPresence(const std::string& group, const std::string& want) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Presence(group).find(want) != std::string::npos) return true;
      std::this_thread::sleep_for(milliseconds(20));  // poll, not a sync
    }
    return false;
  }

  BrokerProcess broker_;
  int api_port_ = 0;
  std::unique_ptr<httplib::Client> client_;
  httplib::Headers headers_;
};

TEST_F(ApiTest, PublishToGroupsAllAndUsersByteExact) {
  GatewayProcess gw1 =
      GatewayProcess::Start(broker_.port, {"--token_hmac_secret=" + kSecret});
  GatewayProcess gw2 = GatewayProcess::Start(
      broker_.port, {"--token_hmac_secret=" + kSecret, "--threads=2"});
  WsTestClients ws;
  auto token = [](const std::string& sub) {
    return MintToken("HS256", kSecret,
                     absl::StrCat(R"({"sub":")", sub,
                                  R"(","groups":["*"],"send":["sync"]})"));
  };
  const int a = ws.Connect(gw1.uri() + "/?token=" + token("alice"));
  const int b = ws.Connect(gw2.uri() + "/?token=" + token("bob"));
  const int a2 = ws.Connect(gw2.uri() + "/?token=" + token("alice"));
  for (int c : {a, b, a2}) ASSERT_GE(c, 0);
  ASSERT_EQ(ws.Request(a, R"({"cmd":"add_group","group_id":"g1","id":1})", "1"),
            Ok(1));
  ASSERT_EQ(ws.Request(b, R"({"cmd":"add_group","group_id":"g2","id":1})", "1"),
            Ok(1));
  // a2's user channel is subscribed on its worker's link; a publish acked
  // there orders it (a2 may share b's worker or not: sync both).
  for (int c : {a2, b}) {
    ASSERT_EQ(
        ws.Request(
            c,
            R"({"cmd":"send_to_group","group_id":"sync","message":"s","id":2})",
            "2"),
        Ok(2));
  }

  auto r = Post(R"({"group_id":"g1","message":"Esta é a mensagem 😀"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"ok":true,"channels":1,"deliveries":1})");
  EXPECT_EQ(ws.WaitForMessages(a, 2)[1], "Esta é a mensagem 😀");
  r = Post(R"({"group_ids":["g1","g2"],"message":{"k":[1,2.5,null]}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(ws.WaitForMessages(a, 3)[2], R"({"k":[1,2.5,null]})");
  EXPECT_EQ(ws.WaitForMessages(b, 3)[2], R"({"k":[1,2.5,null]})");
  r = Post(R"({"user_id":"alice","message":"to alice"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(ws.WaitForMessages(a, 4)[3], "to alice");
  EXPECT_EQ(ws.WaitForMessages(a2, 2)[1], "to alice");
  r = Post(R"({"all":true,"message":"everyone"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(ws.WaitForMessages(a, 5)[4], "everyone");
  EXPECT_EQ(ws.WaitForMessages(b, 4)[3], "everyone");
  EXPECT_EQ(ws.WaitForMessages(a2, 3)[2], "everyone");
  EXPECT_EQ(ws.Messages(b).size(), 4u);  // not alice's message
  EXPECT_GE(broker_.Metric("channel_broker_api_requests_total{route="
                           "\"publish\",status=\"200\"}"),
            4);
}

struct BadRequest {
  const char* name;
  std::function<httplib::Result(httplib::Client&)> send;
  int status;
  const char* code;
};

class ApiErrorTest : public ApiTest,
                     public ::testing::WithParamInterface<BadRequest> {};

TEST_P(ApiErrorTest, StatusAndCode) {
  auto r = GetParam().send(*client_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, GetParam().status) << r->body;
  EXPECT_NE(r->body.find(absl::StrCat(R"("code":")", GetParam().code, "\"")),
            std::string::npos)
      << r->body;
  // The connection and the API keep working.
  auto ok = Post(R"({"group_id":"g","message":"x"})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
}

httplib::Headers Auth() { return {{"Authorization", "Bearer " + kKey}}; }

INSTANTIATE_TEST_SUITE_P(
    Requests, ApiErrorTest,
    ::testing::Values(
        BadRequest{"missing_key",
                   [](httplib::Client& c) {
                     return c.Post("/api/publish",
                                   R"({"group_id":"g","message":"x"})",
                                   "application/json");
                   },
                   401, "unauthorized"},
        BadRequest{"wrong_key",
                   [](httplib::Client& c) {
                     return c.Post("/api/publish",
                                   {{"Authorization", "Bearer nope"}},
                                   R"({"group_id":"g","message":"x"})",
                                   "application/json");
                   },
                   401, "unauthorized"},
        BadRequest{"invalid_json",
                   [](httplib::Client& c) {
                     return c.Post("/api/publish", Auth(), "{",
                                   "application/json");
                   },
                   400, "invalid_json"},
        BadRequest{"unknown_target",
                   [](httplib::Client& c) {
                     return c.Post("/api/publish", Auth(),
                                   R"({"room":"g","message":"x"})",
                                   "application/json");
                   },
                   400, "missing_target"},
        BadRequest{"oversized",
                   [](httplib::Client& c) {
                     return c.Post(
                         "/api/publish", Auth(),
                         absl::StrCat(R"({"group_id":"g","message":")",
                                      std::string(8000, 'x'), "\"}"),
                         "application/json");
                   },
                   413, "body_too_large"},
        BadRequest{
            "bad_presence",
            [](httplib::Client& c) { return c.Get("/api/presence", Auth()); },
            400, "invalid_field"},
        BadRequest{
            "no_route",
            [](httplib::Client& c) { return c.Get("/api/nope", Auth()); }, 404,
            "not_found"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ApiRateTest, TooManyRequestsGet429) {
  BrokerProcess broker =
      BrokerProcess::Start({"--api_port=0", "--api_max_requests_per_sec=2"});
  httplib::Client c("127.0.0.1",
                    broker.process->WaitForPort("api listening on"));
  int limited = 0;
  for (int i = 0; i < 10; ++i) {
    auto r = c.Post("/api/publish", R"({"group_id":"g","message":"x"})",
                    "application/json");
    ASSERT_TRUE(r);
    if (r->status == 429) {
      ++limited;
      EXPECT_NE(r->body.find("rate_limited"), std::string::npos);
    }
  }
  EXPECT_GE(limited, 7);
}

TEST(ApiListenTest, NoKeyMeansLoopbackOnly) {
  auto broker = DaemonProcess::Start(
      CHANNEL_BROKER_BIN, {"--listen=127.0.0.1", "--port=0", "--admin_port=-1",
                           "--api_port=0", "--api_listen=0.0.0.0"});
  auto status = broker->Wait(seconds(10));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 1);
  EXPECT_NE(broker->Output().find("may only listen on loopback"),
            std::string::npos);
}

TEST_F(ApiTest, PresenceThroughJoinsLeavesClosesAndAKilledGateway) {
  GatewayProcess gw1 = GatewayProcess::Start(broker_.port);
  GatewayProcess gw2 = GatewayProcess::Start(broker_.port, {"--threads=2"});
  WsTestClients ws;
  std::vector<int> on1, on2;
  for (int i = 0; i < 3; ++i) on1.push_back(ws.Connect(gw1.uri()));
  for (int i = 0; i < 2; ++i) on2.push_back(ws.Connect(gw2.uri()));
  for (int c : on1) {
    ASSERT_EQ(
        ws.Request(c, R"({"cmd":"add_group","group_id":"p","id":1})", "1"),
        Ok(1));
  }
  for (int c : on2) {
    ASSERT_EQ(
        ws.Request(c, R"({"cmd":"add_group","group_id":"p","id":1})", "1"),
        Ok(1));
  }
  ASSERT_TRUE(WaitPresence("p", R"("connections":5)")) << Presence("p");
  EXPECT_NE(Presence("p").find(R"("users":0)"), std::string::npos);
  // The browser command answers the same.
  std::string reply =
      ws.Request(on1[0], R"({"cmd":"presence","group_id":"p","id":2})", "2");
  EXPECT_NE(reply.find(R"("connections":5)"), std::string::npos) << reply;
  ASSERT_EQ(
      ws.Request(on1[0], R"({"cmd":"leave_group","group_id":"p","id":3})", "3"),
      Ok(3));
  ws.Close(on2[0]);
  ASSERT_TRUE(WaitPresence("p", R"("connections":3)")) << Presence("p");
  // channel-cli asks over the binary protocol.
  const std::string cli = absl::StrCat(
      CHANNEL_CLI_BIN, " --broker=127.0.0.1:", broker_.port, " presence p");
  FILE* out = ::popen(cli.c_str(), "r");
  ASSERT_NE(out, nullptr);
  char line[128] = {};
  ASSERT_NE(std::fgets(line, sizeof(line), out), nullptr);
  EXPECT_EQ(::pclose(out), 0);
  EXPECT_STREQ(line, "connections 3 users 0\n");
  auto groups = client_->Get("/api/groups?prefix=p", headers_);
  ASSERT_TRUE(groups);
  EXPECT_NE(groups->body.find(R"("group_id":"p","connections":3)"),
            std::string::npos)
      << groups->body;
  // A SIGKILLed gateway's members leave with its broker connection.
  gw1.process->Signal(SIGKILL);
  ASSERT_TRUE(WaitPresence("p", R"("connections":1)")) << Presence("p");
}

TEST_F(ApiTest, SlowApiClientDoesNotStallTheBroker) {
  GatewayProcess gw = GatewayProcess::Start(broker_.port);
  // A client that sends half a request and then nothing.
  const int slow = ConnectLoopback(api_port_);
  ASSERT_GE(slow, 0);
  const std::string partial =
      "POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n";
  ASSERT_EQ(::send(slow, partial.data(), partial.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(partial.size()));
  WsTestClients ws;
  const int a = ws.Connect(gw.uri());
  ASSERT_EQ(ws.Request(a, R"({"cmd":"add_group","group_id":"s","id":1})", "1"),
            Ok(1));
  for (int i = 0; i < 20; ++i) {
    auto r = Post(absl::StrCat(R"({"group_id":"s","message":"m)", i, "\"}"));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
  }
  EXPECT_EQ(ws.WaitForMessages(a, 21).size(), 21u);
  ::close(slow);
}

// Issue 19 item 2 through the API: the 1,000-group 40 KB publish that used
// to answer 200 and then cut the gateway's link is refused whole (400,
// published:false); a publish a stopped gateway's full link cannot take is
// 503 backpressure with Retry-After, and nothing is lost once it reads.
TEST(ApiFlowTest, LargePublishRefusedAndFullLinkIsBackpressure) {
  BrokerProcess broker = BrokerProcess::Start(
      {"--api_port=0", "--api_key=" + kKey, "--api_max_body_bytes=2000000",
       "--max_queued_bytes=8388608"});
  const int api_port = broker.process->WaitForPort("api listening on");
  httplib::Client client("127.0.0.1", api_port);
  client.set_read_timeout(30, 0);
  const httplib::Headers auth = {{"Authorization", "Bearer " + kKey}};
  GatewayProcess gw = GatewayProcess::Start(
      broker.port,
      {"--rate_limit_per_sec=100000", "--rate_limit_burst=100000",
       "--rate_limit_bytes_per_sec=0", "--max_queued_bytes=268435456"});
  WsTestClients ws;
  const int member = ws.Connect(gw.uri());
  ASSERT_GE(member, 0);
  std::string ids;
  for (int i = 0; i < 1000; ++i) {
    const std::string group = absl::StrCat("g", i);
    ids += absl::StrCat(i ? "," : "", "\"", group, "\"");
    ASSERT_TRUE(ws.Send(
        member, absl::StrCat(R"({"cmd":"add_group","group_id":")", group, "\"",
                             i == 999 ? R"(,"id":1})" : "}")));
  }
  ASSERT_EQ(ws.WaitForMessages(member, 1).at(0), Ok(1));

  auto r =
      client.Post("/api/publish", auth,
                  absl::StrCat(R"({"group_ids":[)", ids, R"(],"message":")",
                               std::string(40000, 'x'), R"("})"),
                  "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find(R"("published":false)"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("max_publish_fanout_bytes"), std::string::npos)
      << r->body;

  gw.process->Signal(SIGSTOP);
  const std::string big = std::string(1 << 20, 'b');
  int accepted = 0;
  bool refused = false;
  for (int i = 0; i < 200 && !refused; ++i) {
    r = client.Post(
        "/api/publish", auth,
        absl::StrCat(R"({"group_id":"g7","message":")", i, ":", big, R"("})"),
        "application/json");
    ASSERT_TRUE(r);
    if (r->status == 200) {
      ++accepted;
      continue;
    }
    refused = true;
    EXPECT_EQ(r->status, 503) << r->body;
    EXPECT_NE(r->body.find(R"("code":"backpressure")"), std::string::npos)
        << r->body;
    EXPECT_NE(r->body.find(R"("published":false)"), std::string::npos);
    EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  }
  gw.process->Signal(SIGCONT);
  ASSERT_TRUE(refused);
  ASSERT_GT(accepted, 0);
  // Every accepted one arrives: the link was never cut.
  const auto got = ws.WaitForMessages(member, 1 + accepted, seconds(60));
  ASSERT_EQ(got.size(), static_cast<size_t>(1 + accepted));
  EXPECT_EQ(gw.Metric("channel_gateway_broker_disconnects_total"), 0);
}

}  // namespace
}  // namespace channel::testing
