// The HTTP API's client routes in a cluster: an action reaches a
// connection whose gateway is on another broker, and a client no gateway
// of the cluster holds is answered 404 at once (not after the action
// timeout).
#include <csignal>
#include <string>

#include "absl/strings/match.h"
#include "httplib.h"
#include "tests/cluster/cluster_fixture.h"
#include "tests/gateway/app/app_events_fixture.h"

namespace channel::testing {
namespace {

class ClusterAppApiTest : public ClusterTest {
 protected:
  void SetUp() override {
    // (An action nobody answers gets 504 after 2 s.)
    broker_flags_[0] = {"--api_port=0"};
    ClusterTest::SetUp();
  }
};

TEST_F(ClusterAppApiTest, ActionsCrossBrokersAndGoneClientsAre404AtOnce) {
  const int api_port = brokers_[0].process->WaitForPort("api listening on");
  const int c = ws_.Connect(gateways_[1].uri());  // on broker 1
  ASSERT_GE(c, 0);
  const std::string me =
      AppJson(ws_.Request(c, R"({"cmd":"whoami","id":1})", "1")).Str("client");
  ASSERT_FALSE(me.empty());
  httplib::Client api("127.0.0.1", api_port);
  auto r = api.Post(("/api/clients/" + me + "/send").c_str(),
                    R"({"message":"across"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(ws_.WaitForMessages(c, 2).back(), "across");
  // Broker 0 holds the whole cluster's interest (its window over, every
  // broker synced): no broker has this node.
  ASSERT_EQ(
      brokers_[0].WaitMetric("channel_broker_cluster_interest_selective", 1),
      1);
  r = api.Get("/api/clients/0123456789abcdef-0.1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;
  EXPECT_TRUE(absl::StrContains(r->body, "no gateway holds")) << r->body;
  // The gateway gone: so is its node, everywhere.
  gateways_[1].process->Signal(SIGKILL);
  ASSERT_TRUE(gateways_[1].process->Wait(seconds(10)).has_value());
  const auto deadline = std::chrono::steady_clock::now() + seconds(20);
  do {
    r = api.Get(("/api/clients/" + me).c_str());
    ASSERT_TRUE(r);
  } while (r->status != 404 && std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(r->status, 404) << r->body;
  EXPECT_TRUE(absl::StrContains(r->body, "no gateway holds")) << r->body;
}

}  // namespace
}  // namespace channel::testing
