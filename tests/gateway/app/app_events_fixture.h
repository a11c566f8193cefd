#ifndef CHANNEL_TESTS_GATEWAY_APP_APP_EVENTS_FIXTURE_H_
#define CHANNEL_TESTS_GATEWAY_APP_APP_EVENTS_FIXTURE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/gateway/gateway_fixture.h"
#include "tests/support/clients/test_broker_client.h"
#include "tests/support/clients/ws_test_clients.h"

// What the application-event tests share (app_events_test.cc,
// app_actions_test.cc): a broker, gateways with --events, backends in a
// queue group on app:events.
namespace channel::testing {

// One event or result, parsed.
struct AppJson {
  explicit AppJson(const std::string& text) { doc.Parse(text.c_str()); }
  std::string Str(const char* key) const {
    if (!doc.IsObject()) return "";
    auto it = doc.FindMember(key);
    return it != doc.MemberEnd() && it->value.IsString()
               ? std::string(it->value.GetString(), it->value.GetStringLength())
               : "";
  }
  uint64_t Num(const char* key) const {
    if (!doc.IsObject()) return 0;
    auto it = doc.FindMember(key);
    return it != doc.MemberEnd() && it->value.IsUint64() ? it->value.GetUint64()
                                                         : 0;
  }
  rapidjson::Document doc;
};

// The node channel of a client id (what precedes its last '.').
inline std::string NodeChannel(const std::string& client) {
  return "app:node:" + client.substr(0, client.rfind('.'));
}

class AppEventsTest : public ::testing::Test {
 protected:
  void SetUp() override { broker_ = BrokerProcess::Start(); }

  GatewayProcess Gateway(std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), "--events");
    return GatewayProcess::Start(broker_.port, extra);
  }
  std::unique_ptr<TestBrokerClient> Backend(
      const std::string& group = "backend") {
    auto backend = std::make_unique<TestBrokerClient>(broker_.port);
    EXPECT_TRUE(backend->WaitConnected());
    EXPECT_TRUE(backend->SubscribeQueue(group, {"app:events"}).ok());
    return backend;
  }
  std::string Whoami(int c) {
    const std::string reply =
        ws_.Request(c, R"({"cmd":"whoami","id":"who"})", R"("who")");
    return AppJson(reply).Str("client");
  }
  // Waits for the events of `client` among `backend`'s until one of type
  // `until_type` is seen (others, e.g. the broker's occupied/vacated, come
  // in between: each wait is for one more event); returns them in order.
  std::vector<std::string> EventsOf(TestBrokerClient& backend,
                                    const std::string& client,
                                    const std::string& until_type,
                                    size_t at_least) {
    std::vector<std::string> out;
    for (size_t want = at_least; want < at_least + 20; ++want) {
      out.clear();
      for (const ReceivedEvent& e : backend.WaitForEvents(want)) {
        AppJson j(e.payload);
        if (j.Str("client") == client) out.push_back(e.payload);
      }
      if (!out.empty() && AppJson(out.back()).Str("type") == until_type) break;
    }
    if (!out.empty()) {
      EXPECT_EQ(AppJson(out.back()).Str("type"), until_type);
    }
    return out;
  }
  // The backend's action, published to the client's node.
  absl::StatusOr<uint64_t> Act(TestBrokerClient& backend,
                               const std::string& client,
                               const std::string& json) {
    return backend.Publish(NodeChannel(client), json);
  }

  BrokerProcess broker_;
  WsTestClients ws_;
};

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_GATEWAY_APP_APP_EVENTS_FIXTURE_H_
