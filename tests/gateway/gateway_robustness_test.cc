// A real broker and two real ws-gateway processes under bad input, slow
// and dead clients, a broker killed mid-stream, refused origins and SIGTERM.
#include <signal.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gateway/commands/replies.h"
#include "gtest/gtest.h"
#include "tests/gateway/gateway_integration_fixture.h"
#include "tests/support/clients/ws_test_clients.h"
#include "tests/support/sockets/raw_ws_socket.h"

namespace channel::testing {
namespace {

using std::chrono::seconds;

struct BadInput {
  const char* name;
  std::string frame;
  const char* code;
};

void PrintTo(const BadInput& b, std::ostream* os) { *os << b.name; }

class GatewayBadInputTest : public GatewayIntegrationTest,
                            public ::testing::WithParamInterface<BadInput> {};

TEST_P(GatewayBadInputTest, ErrorReplyAndConnectionStaysOpen) {
  const BadInput& in = GetParam();
  const int victim = ws_.Connect(gw1_.uri());
  const int other = ws_.Connect(gw1_.uri());
  ASSERT_GE(victim, 0);
  ASSERT_GE(other, 0);
  ASSERT_EQ(ws_.Request(other, Join("room", 1), "1"), Ok(1));
  for (int i = 0; i < 3; ++i) {  // fill the group limit (3) for "too_many"
    ASSERT_EQ(ws_.Request(victim, Join(absl::StrCat("mine", i), 10 + i),
                          std::to_string(10 + i)),
              Ok(10 + i));
  }
  const size_t before = ws_.MessageCount(victim);
  if (std::string(in.name) == "binary_frame") {
    ASSERT_TRUE(ws_.SendBinary(victim, in.frame));
  } else {
    ASSERT_TRUE(ws_.Send(victim, in.frame));
  }
  auto got = ws_.WaitForMessages(victim, before + 1);
  ASSERT_EQ(got.size(), before + 1);
  EXPECT_NE(got.back().find(absl::StrCat("\"code\":\"", in.code, "\"")),
            std::string::npos)
      << got.back();
  EXPECT_LT(got.back().size(), 400u);  // never echoes unbounded input
  // Still open and working; the other client never noticed.
  ASSERT_EQ(
      ws_.Request(
          victim,
          R"({"cmd":"send_to_group","group_id":"room","message":"after","id":99})",
          "99"),
      Ok(99));
  EXPECT_EQ(ws_.WaitForMessages(other, 2)[1], "after");
  EXPECT_TRUE(ws_.IsOpen(victim));
  EXPECT_EQ(gw1_.Metric(absl::StrCat("channel_gateway_errors_total{code=\"",
                                     in.code, "\"}")),
            1);
}

INSTANTIATE_TEST_SUITE_P(
    Inputs, GatewayBadInputTest,
    ::testing::Values(
        BadInput{"invalid_json", "{\"cmd\":", "invalid_json"},
        BadInput{"not_json_at_all", "hello", "invalid_json"},
        BadInput{"array", "[1,2]", "not_an_object"},
        BadInput{"string", "\"add_group\"", "not_an_object"},
        BadInput{"number", "5", "not_an_object"},
        BadInput{"unknown_cmd", R"({"cmd":"drop_table"})", "unknown_cmd"},
        BadInput{"long_unknown_cmd",
                 "{\"cmd\":\"" + std::string(100000, 'x') + "\"}",
                 "unknown_cmd"},
        BadInput{"missing_cmd", R"({"group_id":"1"})", "missing_field"},
        BadInput{"cmd_not_string", R"({"cmd":5})", "invalid_field"},
        BadInput{"missing_group", R"({"cmd":"add_group"})", "missing_field"},
        BadInput{"group_bool", R"({"cmd":"add_group","group_id":true})",
                 "invalid_field"},
        BadInput{"group_float", R"({"cmd":"add_group","group_id":1.5})",
                 "invalid_field"},
        BadInput{"group_object", R"({"cmd":"add_group","group_id":{}})",
                 "invalid_field"},
        BadInput{"group_empty", R"({"cmd":"add_group","group_id":""})",
                 "invalid_field"},
        BadInput{"group_too_long",
                 "{\"cmd\":\"add_group\",\"group_id\":\"" +
                     std::string(200, 'g') + "\"}",
                 "group_id_too_long"},
        BadInput{"too_many_groups",
                 R"({"cmd":"add_group","group_id":"fourth"})",
                 "too_many_groups"},
        BadInput{"missing_message", R"({"cmd":"send_to_group","group_id":"1"})",
                 "missing_field"},
        BadInput{
            "exclude_self_not_bool",
            R"({"cmd":"send_to_group","group_id":"1","message":"m","exclude_self":1})",
            "invalid_field"},
        BadInput{"id_wrong_type",
                 R"({"cmd":"add_group","group_id":"1","id":[1]})",
                 "invalid_field"},
        BadInput{"deep_message",
                 "{\"cmd\":\"send_to_all\",\"message\":" +
                     std::string(10000, '[') + std::string(10000, ']') + "}",
                 "invalid_field"},
        BadInput{"deep_json_bomb", std::string(100000, '['), "invalid_field"},
        BadInput{"binary_frame", std::string("\x00\x01\x02", 3),
                 "binary_not_supported"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(GatewayIntegrationTest, OversizeMessageClosesWith1009) {
  GatewayProcess small =
      GatewayProcess::Start(broker_.port, {"--max_message_bytes=1024"});
  const int a = ws_.Connect(small.uri());
  const int b = ws_.Connect(small.uri());
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_TRUE(ws_.Send(a, std::string(2000, 'x')));
  EXPECT_EQ(ws_.WaitClosed(a), 1009);
  EXPECT_EQ(ws_.Request(b, Join("ok", 1), "1"), Ok(1));
}

TEST_F(GatewayIntegrationTest, SlowClientClosedOthersKeepReceiving) {
  GatewayProcess gw = GatewayProcess::Start(
      broker_.port, {"--max_queued_bytes=262144", "--threads=1",
                     "--rate_limit_per_sec=0", "--rate_limit_bytes_per_sec=0"});
  RawWsSocket slow(gw.port, /*receive_buffer=*/4096);
  ASSERT_TRUE(slow.ok());
  ASSERT_TRUE(slow.SendText(R"({"cmd":"add_group","group_id":"flood"})"));
  const int fast = ws_.Connect(gw.uri());
  const int sender = ws_.Connect(gw.uri());  // unlimited rate on this one
  ASSERT_GE(fast, 0);
  ASSERT_GE(sender, 0);
  // The slow socket's join is ordered before fast's on the same worker
  // thread, so once fast's join is live, slow's is too.
  ASSERT_EQ(ws_.Request(fast, Join("flood", 1), "1"), Ok(1));
  const std::string payload(1000, 'p');
  // ~12 MB: far beyond the kernel's socket buffers plus the 256 KiB bound.
  // Every 20th send waits for its Ack and for the fast client to have
  // everything so far, so the fast client is never more than 20 KiB behind
  // however loaded the machine is (it never has to out-run the sender).
  constexpr int kCount = 12000;
  for (int i = 0; i < kCount; ++i) {
    const std::string text = absl::StrCat(i, "-", payload);
    if (i % 20 == 19) {
      ASSERT_EQ(
          ws_.Request(
              sender,
              absl::StrCat(
                  R"({"cmd":"send_to_group","group_id":"flood","message":")",
                  text, R"(","id":)", 1000 + i, "}"),
              std::to_string(1000 + i)),
          Ok(1000 + i));
      ASSERT_EQ(ws_.WaitForMessages(fast, 2 + i, seconds(30)).size(),
                static_cast<size_t>(2 + i));
    } else {
      ASSERT_TRUE(ws_.Send(sender, SendTo("flood", text)));
    }
  }
  ASSERT_TRUE(gw.process->WaitForLine("closing slow client", seconds(10)));
  auto got = ws_.WaitForMessages(fast, 1 + kCount, seconds(60));
  ASSERT_EQ(got.size(), 1u + kCount);
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(got[1 + i], absl::StrCat(i, "-", payload)) << i;  // in order
  }
  EXPECT_TRUE(slow.WaitForEof(seconds(10)));
  EXPECT_EQ(gw.Metric("channel_gateway_slow_client_closes_total"), 1);
  EXPECT_TRUE(ws_.IsOpen(fast));
}

TEST_F(GatewayIntegrationTest, DeadPeerClosedByPing) {
  GatewayProcess gw = GatewayProcess::Start(
      broker_.port, {"--ping_interval_ms=200", "--pong_timeout_ms=200"});
  RawWsSocket dead(gw.port);  // never answers pings
  ASSERT_TRUE(dead.ok());
  const int alive = ws_.Connect(gw.uri());  // websocketpp answers pings
  ASSERT_GE(alive, 0);
  EXPECT_TRUE(dead.WaitForEof(seconds(10)));
  EXPECT_EQ(gw.Metric("channel_gateway_ping_timeouts_total"), 1);
  EXPECT_TRUE(ws_.IsOpen(alive));
  EXPECT_EQ(ws_.Request(alive, Join("still", 1), "1"), Ok(1));
}

TEST_F(GatewayIntegrationTest, BrokerKilledAndRestartedMidStream) {
  const int a = ws_.Connect(gw1_.uri());
  const int b = ws_.Connect(gw2_.uri());
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_EQ(ws_.Request(a, Join("live", 1), "1"), Ok(1));
  ASSERT_EQ(ws_.Request(b, Join("live", 2), "2"), Ok(2));
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(ws_.Send(a, SendTo("live", absl::StrCat("before-", i))));
  }
  EXPECT_EQ(ws_.WaitForMessages(b, 51, seconds(10)).size(), 51u);
  EXPECT_EQ(HttpGet(gw1_.admin_port, "/readyz").status, 200);

  const int port = broker_.port;
  size_t from1 = 0, from2 = 0;
  broker_.process->Signal(SIGKILL);
  ASSERT_TRUE(broker_.process->Wait(seconds(10)));
  ASSERT_TRUE(
      gw1_.process->WaitForLine("broker link down", seconds(10), &from1));
  ASSERT_TRUE(
      gw2_.process->WaitForLine("broker link down", seconds(10), &from2));
  EXPECT_EQ(HttpGet(gw1_.admin_port, "/readyz").status, 503);
  // A send while the link is down is refused out loud.
  std::string reply = ws_.Request(
      a, R"({"cmd":"send_to_group","group_id":"live","message":"x","id":3})",
      "3");
  EXPECT_NE(reply.find("broker_unavailable"), std::string::npos) << reply;

  BrokerProcess again = BrokerProcess::Start({}, port);
  ASSERT_TRUE(gw1_.process->WaitForLine("broker link up", seconds(10), &from1));
  ASSERT_TRUE(gw2_.process->WaitForLine("broker link up", seconds(10), &from2));
  EXPECT_EQ(HttpGet(gw1_.admin_port, "/readyz").status, 200);
  ASSERT_EQ(
      ws_.Request(
          a,
          R"({"cmd":"send_to_group","group_id":"live","message":"after","id":4})",
          "4"),
      Ok(4));
  // b was told that it may have missed messages (gap), then got "after".
  auto got = ws_.WaitForMessages(b, 53, seconds(10));
  ASSERT_EQ(got.size(), 53u);
  EXPECT_NE(got[51].find(R"("code":"gap")"), std::string::npos) << got[51];
  EXPECT_EQ(got.back(), "after");
  EXPECT_GE(gw1_.Metric("channel_gateway_broker_connects_total"), 2);
  // Groups survived on both gateways: "all" and a node channel per worker
  // link (2 x (1 + 2)) + "live" on gw1's link and on the gw2 worker that
  // holds b.
  EXPECT_EQ(again.Metric("channel_broker_subscriptions"), 8);
}

TEST_F(GatewayIntegrationTest, AllowedOriginsRefusesOthers) {
  GatewayProcess gw = GatewayProcess::Start(
      broker_.port,
      {"--allowed_origins=https://app.example,https://b.example"});
  EXPECT_LT(ws_.Connect(gw.uri(), {{"Origin", "https://evil.example"}}), 0);
  EXPECT_EQ(ws_.last_http_status(), 403);
  EXPECT_GE(ws_.Connect(gw.uri(), {{"Origin", "https://b.example"}}), 0);
}

// SIGTERM drains (the default --drain_ms, 5 s): every client is closed with
// 1012 ("reconnect now, elsewhere") and the gateway exits 0 once they are.
TEST_F(GatewayIntegrationTest, SigtermDrainsClientsWith1012AndExitsZero) {
  const int a = ws_.Connect(gw1_.uri());
  const int b = ws_.Connect(gw1_.uri());
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_EQ(ws_.Request(a, Join("bye", 1), "1"), Ok(1));
  gw1_.process->Signal(SIGTERM);
  EXPECT_EQ(ws_.WaitClosed(a, seconds(30)), 1012);
  EXPECT_EQ(ws_.WaitClosed(b, seconds(30)), 1012);
  EXPECT_EQ(gw1_.process->Wait(seconds(30)), 0);
}

}  // namespace
}  // namespace channel::testing
