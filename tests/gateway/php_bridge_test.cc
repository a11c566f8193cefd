// The seed's PHP channel and ws-gateway groups, side by side: PHP code
// publishing ['group_id'=>G,'message'=>M] on send_to_group reaches group G
// on every ws-gateway, and a browser's send to G reaches PHP subscribers of
// send_to_group as that array. Real broker, gateways, php-cli and
// WebSocket clients.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/gateway/gateway_fixture.h"
#include "tests/support/clients/ws_test_clients.h"

namespace channel::testing {
namespace {

using std::chrono::seconds;

std::unique_ptr<DaemonProcess> Php(std::vector<std::string> args) {
  args.insert(args.begin(), CHANNEL_PHP_TESTS "/channel_client_test.php");
  return DaemonProcess::Start(CHANNEL_PHP_BIN, args);
}

void PhpPublish(int port, const std::string& channel, const std::string& json) {
  auto php = Php({"publish", std::to_string(port), channel, json});
  auto status = php->Wait(seconds(30));
  ASSERT_TRUE(status.has_value());
  ASSERT_EQ(*status, 0) << php->Output();
}

TEST(PhpBridgeTest, SeedChannelAndGatewayGroupsServeTheSameGroups) {
  BrokerProcess broker = BrokerProcess::Start();
  GatewayProcess gw1 = GatewayProcess::Start(broker.port);
  GatewayProcess gw2 = GatewayProcess::Start(broker.port, {"--threads=2"});
  WsTestClients ws;
  const int a = ws.Connect(gw1.uri());
  const int b = ws.Connect(gw2.uri());
  const int c = ws.Connect(gw2.uri());
  ASSERT_EQ(ws.Request(a, R"({"cmd":"add_group","group_id":123,"id":1})", "1"),
            R"({"id":1,"ok":true})");
  ASSERT_EQ(
      ws.Request(b, R"({"cmd":"add_group","group_id":"123","id":1})", "1"),
      R"({"id":1,"ok":true})");
  ASSERT_EQ(
      ws.Request(c, R"({"cmd":"add_group","group_id":"abc","id":1})", "1"),
      R"({"id":1,"ok":true})");
  // The seed's PHP WebSocket worker: subscribed to send_to_group.
  auto worker =
      Php({"subscriber", std::to_string(broker.port), "send_to_group", "4"});
  size_t from = 0;
  ASSERT_TRUE(worker->WaitForLine("READY", seconds(10), &from))
      << worker->Output();

  // PHP -> browsers on both gateways, byte for byte.
  PhpPublish(broker.port, "send_to_group",
             R"({"group_id":"123","message":"Esta é a mensagem"})");
  EXPECT_EQ(ws.WaitForMessages(a, 2)[1], "Esta é a mensagem");
  EXPECT_EQ(ws.WaitForMessages(b, 2)[1], "Esta é a mensagem");
  // A non-string message arrives as its JSON text; an integer group id is
  // the same group.
  PhpPublish(broker.port, "send_to_group",
             R"({"group_id":123,"message":{"k":[1,2.5,null]}})");
  EXPECT_EQ(ws.WaitForMessages(a, 3)[2], R"({"k":[1,2.5,null]})");
  EXPECT_EQ(ws.WaitForMessages(b, 3)[2], R"({"k":[1,2.5,null]})");

  // Browsers -> the PHP worker, as ['group_id'=>G,'message'=>M]: G as an
  // integer when PHP would key it so.
  ASSERT_TRUE(ws.Send(
      b, R"({"cmd":"send_to_group","group_id":"123","message":"from ws"})"));
  ASSERT_TRUE(ws.Send(
      c, R"({"cmd":"send_to_group","group_id":"abc","message":"to abc"})"));
  ASSERT_TRUE(worker->Wait(seconds(30)).has_value()) << worker->Output();
  const std::string out = worker->Output();
  // The worker saw the two PHP publishes (PHP to PHP, data as published),
  // in order, then the two browser sends (from two senders: in either
  // order).
  const std::vector<std::string> want = {
      R"(EVENT {"data":{"group_id":"123","message":"Esta é a mensagem"},"group_id_type":"string"})",
      R"(EVENT {"data":{"group_id":123,"message":{"k":[1,2.5,null]}},"group_id_type":"integer"})",
      R"(EVENT {"data":{"group_id":123,"message":"from ws"},"group_id_type":"integer"})",
      R"(EVENT {"data":{"group_id":"abc","message":"to abc"},"group_id_type":"string"})",
  };
  size_t pos = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const size_t at = out.find(want[i], i < 2 ? pos : 0);
    ASSERT_NE(at, std::string::npos) << "missing: " << want[i] << "\n" << out;
    if (i < 2) {
      pos = at + want[i].size();
    } else {
      EXPECT_GT(at, pos) << want[i];
    }
  }
  EXPECT_NE(out.find("\nOK"), std::string::npos) << out;
  // c's own copy travels gateway -> broker -> gateway, a path that races
  // the PHP worker's: wait for it, then nothing else may have arrived.
  const auto got_c = ws.WaitForMessages(c, 2);
  ASSERT_EQ(got_c.size(), 2u);  // its ok and its own message
  EXPECT_EQ(got_c[1], "to abc");
  EXPECT_EQ(broker.Metric(
                "channel_broker_php_bridged_total{direction=\"to_groups\"}"),
            2);
  EXPECT_EQ(
      broker.Metric("channel_broker_php_bridged_total{direction=\"to_php\"}"),
      2);
}

}  // namespace
}  // namespace channel::testing
