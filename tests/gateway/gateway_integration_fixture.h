#ifndef CHANNEL_TESTS_GATEWAY_GATEWAY_INTEGRATION_FIXTURE_H_
#define CHANNEL_TESTS_GATEWAY_GATEWAY_INTEGRATION_FIXTURE_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/gateway/gateway_fixture.h"
#include "tests/support/clients/ws_test_clients.h"

// A broker and two gateways (gw2 with two workers), shared by
// gateway_integration_test.cc and gateway_robustness_test.cc.
namespace channel::testing {

// {"cmd":"send_to_group",...} with `message` as a JSON string's text.
inline std::string SendTo(const std::string& group, const std::string& message,
                          bool exclude_self = false) {
  return absl::StrCat("{\"cmd\":\"send_to_group\",\"group_id\":\"", group,
                      "\",\"message\":\"", message, "\"",
                      exclude_self ? ",\"exclude_self\":true" : "", "}");
}

class GatewayIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = BrokerProcess::Start();
    gw1_ =
        GatewayProcess::Start(broker_.port, {"--max_groups_per_connection=3"});
    // gw2 runs two workers (shards), each with its own broker link.
    gw2_ = GatewayProcess::Start(
        broker_.port, {"--max_groups_per_connection=3", "--threads=2"});
  }

  BrokerProcess broker_;
  GatewayProcess gw1_;
  GatewayProcess gw2_;
  WsTestClients ws_;
};

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_GATEWAY_GATEWAY_INTEGRATION_FIXTURE_H_
