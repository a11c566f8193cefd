// Queue groups across the brokers of a cluster (docs/PROTOCOL.md "Queue
// groups"), with ws-gateway's application events: backends on two brokers
// share the connections of gateways on all three, each connection's events
// at one backend, in order; a backend gone hands its connections to the
// other, and their commands are answered.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/cluster/cluster_fixture.h"
#include "tests/gateway/app/app_events_fixture.h"

namespace channel::testing {
namespace {

class ClusterQueueTest : public ClusterTest {
 protected:
  void SetUp() override {
    for (auto& flags : gateway_flags_) {
      // The test answers commands itself: on a loaded machine that may take
      // longer than the 1 s default.
      flags = {"--events", "--backend_timeout_ms=30000"};
    }
    ClusterTest::SetUp();
  }
  // A backend in queue group "backend" on broker `b`.
  std::unique_ptr<TestBrokerClient> Backend(int b) {
    auto backend = std::make_unique<TestBrokerClient>(brokers_[b].port);
    EXPECT_TRUE(backend->WaitConnected());
    EXPECT_TRUE(backend->SubscribeQueue("backend", {"app:events"}).ok());
    return backend;
  }
  std::string Whoami(int c) {
    return AppJson(ws_.Request(c, R"({"cmd":"whoami","id":"who"})", R"("who")"))
        .Str("client");
  }
  // The events `backend` has, by client: "type" or "type:command text".
  static std::map<std::string, std::vector<std::string>> ByClient(
      TestBrokerClient& backend) {
    std::map<std::string, std::vector<std::string>> out;
    for (const ReceivedEvent& e : backend.Events()) {
      AppJson j(e.payload);
      std::string what = j.Str("type");
      if (what == "message") {
        const auto& command = j.doc["command"];
        what += ":" + std::string(command["text"].GetString());
      }
      if (!j.Str("client").empty()) out[j.Str("client")].push_back(what);
    }
    return out;
  }
  // Answers every request among `backend`'s events not in *done yet
  // ("client#request").
  void AnswerRequests(TestBrokerClient& backend, std::set<std::string>* done) {
    for (const ReceivedEvent& e : backend.Events()) {
      AppJson j(e.payload);
      const uint64_t request = j.Num("request");
      const std::string client = j.Str("client");
      // Request numbers are per connection.
      if (j.Str("type") != "message" || request == 0 ||
          !done->insert(absl::StrCat(client, "#", request)).second) {
        continue;
      }
      ASSERT_TRUE(backend
                      .Publish(NodeChannel(client),
                               absl::StrCat(R"({"action":"reply","client":")",
                                            client, R"(","request":)", request,
                                            R"(,"data":"answered"})"))
                      .ok());
    }
  }
  // Whether connection `c` gets `text` within 10 s (each wait for one more
  // message).
  bool GetsMessage(int c, const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(10);
    for (;;) {
      for (const std::string& m : ws_.Messages(c)) {
        if (m == text) return true;
      }
      if (std::chrono::steady_clock::now() >= deadline) return false;
      ws_.WaitForMessages(c, ws_.MessageCount(c) + 1, milliseconds(200));
    }
  }
  // Waits (each wait for one more event, bounded) until `a` and `b` hold
  // `total` events of connections between them.
  void WaitEvents(TestBrokerClient& a, TestBrokerClient* b, size_t total) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(20);
    auto count = [&] {
      return a.EventCount() + (b != nullptr ? b->EventCount() : 0);
    };
    while (count() < total && std::chrono::steady_clock::now() < deadline) {
      a.WaitForEvents(a.EventCount() + 1, milliseconds(100));
    }
    ASSERT_EQ(count(), total);
  }
};

TEST_F(ClusterQueueTest, BackendsOnTwoBrokersShareConnectionsEachAtOne) {
  auto b0 = Backend(0);
  auto b1 = Backend(1);
  // Two connections on each gateway: each broker's connections go to its
  // backends in turn (the other broker's backend is one member there).
  std::vector<int> clients;
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    clients.push_back(ws_.Connect(gateways_[i % 3].uri()));
    ASSERT_GE(clients.back(), 0);
    ids.push_back(Whoami(clients.back()));
    ASSERT_FALSE(ids.back().empty());
  }
  for (int c : clients) {
    for (const char* text : {"one", "two"}) {
      ASSERT_TRUE(ws_.Send(
          c, absl::StrCat(R"({"cmd":"chat","text":")", text, R"("})")));
    }
    ASSERT_TRUE(ws_.Send(c, R"({"cmd":"chat","text":"ask","id":7})"));
  }
  // connect + 3 messages per connection, then each request is answered by
  // the backend that has it (the reply crosses brokers when its gateway is
  // elsewhere) and reaches its connection.
  WaitEvents(*b0, b1.get(), 6 * 4);
  std::set<std::string> answered0, answered1;
  AnswerRequests(*b0, &answered0);
  AnswerRequests(*b1, &answered1);
  for (int c : clients) {
    EXPECT_TRUE(GetsMessage(c, R"({"id":7,"ok":true,"data":"answered"})"))
        << "client " << c << ": " << absl::StrJoin(ws_.Messages(c), " | ");
  }
  for (int c : clients) ws_.Close(c);
  WaitEvents(*b0, b1.get(), 6 * 5);

  const auto at0 = ByClient(*b0);
  const auto at1 = ByClient(*b1);
  const std::vector<std::string> whole = {
      "connect", "message:one", "message:two", "message:ask", "close"};
  for (const std::string& id : ids) {
    const bool on0 = at0.count(id) > 0, on1 = at1.count(id) > 0;
    EXPECT_NE(on0, on1) << id << ": at exactly one backend";
    EXPECT_EQ(on0 ? at0.at(id) : at1.at(id), whole) << id;
  }
  // Both backends got some, from each gateway's broker.
  EXPECT_EQ(at0.size() + at1.size(), 6u);
  EXPECT_GT(at0.size(), 0u);
  EXPECT_GT(at1.size(), 0u);
}

TEST_F(ClusterQueueTest, ABackendGoneHandsItsConnectionsToTheOther) {
  auto b0 = Backend(0);
  auto b1 = Backend(1);
  // Broker 2 holds neither: both backends are other brokers' members there.
  ASSERT_EQ(
      brokers_[2].WaitMetric("channel_broker_cluster_queue_remote_groups", 2),
      2);
  std::vector<int> clients;
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(ws_.Connect(gateways_[2].uri()));
    ASSERT_GE(clients.back(), 0);
    ids.push_back(Whoami(clients.back()));
  }
  WaitEvents(*b0, b1.get(), 4);  // the connects, two at each backend
  ASSERT_EQ(b1->EventCount(), 2u);

  b1.reset();  // killed mid-stream: its broker tells the others
  ASSERT_EQ(
      brokers_[2].WaitMetric("channel_broker_cluster_queue_remote_groups", 1),
      1);
  for (int c : clients) {
    ASSERT_TRUE(ws_.Send(c, R"({"cmd":"chat","text":"after","id":9})"));
  }
  WaitEvents(*b0, nullptr, 2 + 4);
  std::set<std::string> answered;
  AnswerRequests(*b0, &answered);
  EXPECT_EQ(answered.size(), 4u);
  for (int c : clients) {
    EXPECT_TRUE(GetsMessage(c, R"({"id":9,"ok":true,"data":"answered"})"))
        << "client " << c;
  }
}

}  // namespace
}  // namespace channel::testing
