// The application's occupied/vacated events in a cluster (docs/PROTOCOL.md
// "Cluster mode", occupancy): one broker tells each edge once for the
// whole cluster, and when it dies the next one tells what its death
// changed.
#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/cluster/cluster_fixture.h"
#include "tests/gateway/app/app_events_fixture.h"

namespace channel::testing {
namespace {

constexpr char kTeller[] = "channel_broker_cluster_occupancy_teller";

class ClusterOccupancyEventsTest : public ClusterTest {
 protected:
  // The broker among `among` that tells (once the brokers have settled: 5 s
  // connected, then 2.5 s; or a teller's death noticed), or -1 after 30 s.
  int Teller(const std::vector<int>& among = {0, 1, 2}) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      for (int i : among) {
        if (brokers_[i].WaitMetric(kTeller, 1, milliseconds(200)) == 1) {
          return i;
        }
      }
    }
    return -1;
  }
  // `group`'s occupancy events `backend` has, in order.
  static std::vector<std::string> Told(TestBrokerClient& backend,
                                       const std::string& group) {
    std::vector<std::string> out;
    for (const ReceivedEvent& e : backend.Events()) {
      const AppJson j(e.payload);
      if (j.Str("group") == group &&
          (j.Str("type") == "occupied" || j.Str("type") == "vacated")) {
        out.push_back(j.Str("type"));
      }
    }
    return out;
  }
  // Waits (each wait for one more event, 30 s at most) until `backend`
  // has `want` as `group`'s last occupancy event.
  static void WaitTold(TestBrokerClient& backend, const std::string& group,
                       const std::string& want) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(30);
    for (;;) {
      const std::vector<std::string> told = Told(backend, group);
      if ((!told.empty() && told.back() == want) ||
          std::chrono::steady_clock::now() >= deadline) {
        return;
      }
      backend.WaitForEvents(backend.EventCount() + 1, milliseconds(200));
    }
  }
  int Join(int gateway, const std::string& group) {
    const int c = ws_.Connect(gateways_[gateway].uri());
    EXPECT_GE(c, 0);
    EXPECT_EQ(ws_.Request(c,
                          absl::StrCat(R"({"cmd":"add_group","group_id":")",
                                       group, R"(","id":1})"),
                          "1"),
              R"({"id":1,"ok":true})");
    return c;
  }
};

TEST_F(ClusterOccupancyEventsTest, OneBrokerTellsEachEdgeOnceForTheCluster) {
  const int teller = Teller();
  ASSERT_GE(teller, 0);
  for (int i = 0; i < 3; ++i) {
    if (i != teller) {
      EXPECT_EQ(brokers_[i].Metric(kTeller), 0) << i;
    }
  }
  // The backend on another broker: the events cross brokers to it.
  const int other = (teller + 1) % 3, third = (teller + 2) % 3;
  TestBrokerClient backend(brokers_[other].port);
  ASSERT_TRUE(backend.WaitConnected());
  ASSERT_TRUE(backend.Subscribe({"app:events"}).ok());

  // Members of "room" on two brokers' gateways, at once: one occupied.
  const int a = Join(other, "room");
  const int b = Join(third, "room");
  ASSERT_TRUE(absl::StrContains(WaitPresence(a, "room", "\"connections\":2"),
                                "\"connections\":2"));
  WaitTold(backend, "room", "occupied");
  // Both leave at once: one vacated.
  ws_.Close(a);
  ws_.Close(b);
  WaitTold(backend, "room", "vacated");
  // A later edge told after them (the teller tells in order): had another
  // broker told "room" too, its events would be in by now.
  const int m = Join(other, "marker");
  WaitTold(backend, "marker", "occupied");
  ws_.Close(m);
  WaitTold(backend, "marker", "vacated");
  EXPECT_EQ(Told(backend, "room"),
            (std::vector<std::string>{"occupied", "vacated"}))
      << Logs();

  // "solo" lives on the teller's gateway alone. The gateway frozen (it
  // cannot move to another broker) and the teller killed: once the others
  // drop the dead broker (5 s silent), the next teller tells "solo"
  // vacated.
  const int s = Join(teller, "solo");
  (void)s;
  WaitTold(backend, "solo", "occupied");
  gateways_[teller].process->Signal(SIGSTOP);
  brokers_[teller].process->Signal(SIGKILL);
  WaitTold(backend, "solo", "vacated");
  EXPECT_EQ(Told(backend, "solo"),
            (std::vector<std::string>{"occupied", "vacated"}))
      << "teller " << teller << ", backend on " << other << "\n"
      << Logs();
  const int next = Teller({other, third});
  ASSERT_GE(next, 0);
  EXPECT_EQ(brokers_[other].Metric(kTeller) + brokers_[third].Metric(kTeller),
            1);
  gateways_[teller].process->Signal(SIGKILL);
}

}  // namespace
}  // namespace channel::testing
