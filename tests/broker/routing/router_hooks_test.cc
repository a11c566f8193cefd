// Router's hooks against fakes: sole interest paused during a restart's
// grace, the publish observer, the cluster link, the history sink.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/broker/routing/router_fixture.h"

namespace channel::testing {
namespace {

// A restart's grace pauses sole interest: a gateway that re-links first
// must not be told it holds a group alone (its publishes would skip the
// broker and the members whose gateways re-link later); its grant is
// revoked if it had one.
class SoleWanter : public FakeSubscriber {
 public:
  bool WantsSoleInterest() const override { return true; }
  bool SendInterest(const std::string& channel, uint64_t, bool sole) override {
    (sole ? grants : revokes).push_back(channel);
    return true;
  }
  std::vector<std::string> grants, revokes;
};

TEST(RouterSolePauseTest, PausedDuringARestartGrace) {
  BrokerOptions options;
  BrokerStats stats;
  Router router(options, &stats);
  SoleWanter early, later;
  ASSERT_TRUE(router.Subscribe(&early, SubscribeTo({"group:a"})).ok());
  EXPECT_EQ(early.grants, std::vector<std::string>{"group:a"});
  router.PauseSole(true);
  EXPECT_EQ(early.revokes, std::vector<std::string>{"group:a"});
  ASSERT_TRUE(router.Subscribe(&later, SubscribeTo({"group:b"})).ok());
  EXPECT_TRUE(later.grants.empty());
  router.PauseSole(false);
  // Grants come back as subscribers change.
  ASSERT_TRUE(router.Subscribe(&later, SubscribeTo({"group:c"})).ok());
  EXPECT_EQ(later.grants, std::vector<std::string>{"group:c"});
}

// The publish hook (PublishObserver, the PHP bridge's seam): it sees every
// channel of every admitted local publish, with its payload, after the
// subscribers; a publish it makes itself is delivered but not observed
// again; a refused publish is not observed; nor is an event from another
// broker (its origin observed it).
class RecordingObserver : public PublishObserver {
 public:
  explicit RecordingObserver(Router* router) : router_(router) {}
  void OnPublished(const std::string& channel,
                   const v1::Event& event) override {
    seen.push_back(channel + "=" + event.payload());
    if (channel == "echo") {
      v1::Publish derived = PublishTo({"derived"}, "from " + event.payload());
      EXPECT_TRUE(router_->Publish(&derived).ok());
    }
  }
  bool Needs(absl::string_view) const override { return false; }
  bool Wakes(absl::string_view) const override { return false; }
  std::vector<std::string> seen;

 private:
  Router* const router_;
};

TEST(RouterTest, TheObserverSeesEveryLocalPublishOnce) {
  BrokerOptions options = SmallLimits();
  BrokerStats stats;
  Router router(options, &stats);
  RecordingObserver observer(&router);
  router.set_observer(&observer);
  FakeSubscriber sub;
  ASSERT_TRUE(router.Subscribe(&sub, SubscribeTo({"a", "derived"})).ok());
  v1::Publish publish = PublishTo({"a", "b", "a"}, "p");
  ASSERT_TRUE(router.Publish(&publish).ok());
  EXPECT_EQ(observer.seen, (std::vector<std::string>{"a=p", "b=p"}));
  observer.seen.clear();
  v1::Publish echo = PublishTo({"echo"}, "q");
  ASSERT_TRUE(router.Publish(&echo).ok());
  EXPECT_EQ(observer.seen, std::vector<std::string>{"echo=q"});
  EXPECT_EQ(sub.payloads, (std::vector<std::string>{"p", "from q"}));
  observer.seen.clear();
  v1::Publish refused = PublishTo({"123456789"}, "r");  // name over limit
  EXPECT_FALSE(router.Publish(&refused).ok());
  v1::Envelope remote;
  remote.mutable_event()->set_channel("a");
  remote.mutable_event()->set_payload("s");
  EXPECT_EQ(router.DeliverRemote(remote), 1u);
  EXPECT_TRUE(observer.seen.empty());
}

// A cluster and its history sink, recorded: what the Router forwards,
// which channels it asks interest for, and what it hands the sink (whose
// answers the test gives).
class FakeCluster : public ClusterLink {
 public:
  bool up() const override { return true; }
  void Interest(const std::string& channel, bool first) override {
    interest.push_back(absl::StrCat(first ? "+" : "-", channel));
  }
  absl::Status Forward(const v1::Envelope& event) override {
    forwarded.push_back(event.event().channel());
    return absl::OkStatus();
  }
  // Holds every wait while `confirm_later`; else nothing is pending.
  bool WaitForInterest(std::function<void()> done) override {
    if (!confirm_later) return false;
    waits.push_back(std::move(done));
    return true;
  }
  std::vector<std::string> interest, forwarded;
  bool confirm_later = false;
  std::vector<std::function<void()>> waits;
};

class FakeSink : public HistorySink {
 public:
  bool Handles(absl::string_view channel) const override {
    return absl::StartsWith(channel, "h");
  }
  absl::Status Store(const v1::Event& event, Done done) override {
    if (!refuse.ok()) return refuse;
    EXPECT_EQ(event.offset(), 0u);  // the sink's sequencer gives it
    stored.push_back(event.channel());
    dones.push_back(std::move(done));
    return absl::OkStatus();
  }
  absl::Status refuse;
  std::vector<std::string> stored;
  std::vector<Done> dones;
};

struct SinkRig {
  BrokerOptions options;
  BrokerStats stats;
  Router router{options, &stats};
  FakeCluster cluster;
  FakeSink sink;
  FakeSubscriber local;
  SinkRig() {
    router.set_cluster(&cluster);
    router.set_history_sink(&sink);
  }
};

TEST(RouterHistorySinkTest, HistoryChannelsGoToTheSinkAndAnswerWhenStored) {
  SinkRig rig;
  ASSERT_TRUE(rig.router.Subscribe(&rig.local, SubscribeTo({"h1", "p1"})).ok());
  // Interest in the cluster only for the channel without history: the
  // sink's feed brings the others.
  EXPECT_EQ(rig.cluster.interest, (std::vector<std::string>{"+p1"}));
  std::vector<absl::StatusOr<uint64_t>> outcomes;
  v1::Publish publish = PublishTo({"h1", "p1"}, "x");
  absl::StatusOr<uint64_t> r = rig.router.Publish(
      &publish, nullptr,
      [&](const absl::StatusOr<uint64_t>& o) { outcomes.push_back(o); });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, Router::kDeferred);
  // p1: delivered and forwarded now; h1: stored, not delivered here.
  EXPECT_EQ(rig.local.channels, (std::vector<std::string>{"p1"}));
  EXPECT_EQ(rig.cluster.forwarded, (std::vector<std::string>{"p1"}));
  EXPECT_EQ(rig.sink.stored, (std::vector<std::string>{"h1"}));
  EXPECT_TRUE(outcomes.empty());  // not before the sink answers
  rig.sink.dones[0](absl::OkStatus());
  ASSERT_EQ(outcomes.size(), 1u);
  ASSERT_TRUE(outcomes[0].ok());
  EXPECT_EQ(*outcomes[0], 1u);  // the delivery made at once (p1)
}

TEST(RouterHistorySinkTest, TheFirstFailureIsTheAnswer) {
  SinkRig rig;
  std::vector<absl::StatusOr<uint64_t>> outcomes;
  v1::Publish publish = PublishTo({"h1", "h2"}, "x");
  auto r = rig.router.Publish(
      &publish, nullptr,
      [&](const absl::StatusOr<uint64_t>& o) { outcomes.push_back(o); });
  ASSERT_EQ(*r, Router::kDeferred);
  ASSERT_EQ(rig.sink.dones.size(), 2u);
  rig.sink.dones[1](absl::UnavailableError("leader lost"));
  EXPECT_TRUE(outcomes.empty());  // h1 still waits
  rig.sink.dones[0](absl::OkStatus());
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_TRUE(absl::IsUnavailable(outcomes[0].status()));
  EXPECT_TRUE(absl::StrContains(outcomes[0].status().message(), "leader lost"));
}

TEST(RouterHistorySinkTest, ARefusalIsSaidAtOnceAndNeverAgain) {
  SinkRig rig;
  rig.sink.refuse = absl::AbortedError("too many in flight");
  int called = 0;
  v1::Publish publish = PublishTo({"h1"}, "x");
  auto r = rig.router.Publish(
      &publish, nullptr, [&](const absl::StatusOr<uint64_t>&) { ++called; });
  EXPECT_TRUE(absl::IsAborted(r.status()));
  EXPECT_EQ(called, 0);
  EXPECT_EQ(rig.stats.publishes_refused_history, 1u);
  // Without `done`: stored, and the caller is not told (counted only).
  rig.sink.refuse = absl::OkStatus();
  v1::Publish quiet = PublishTo({"h1"}, "y");
  auto q = rig.router.Publish(&quiet);
  ASSERT_TRUE(q.ok());
  EXPECT_NE(*q, Router::kDeferred);
  ASSERT_EQ(rig.sink.dones.size(), 1u);
  rig.sink.dones[0](absl::OkStatus());  // nobody to tell: no crash
}

// In a cluster, a Subscribe's Ack waits until every other broker forwards
// what this one now wants (docs/PROTOCOL.md "Cluster mode").
TEST(RouterClusterTest, AnAckWaitsForTheClustersInterest) {
  SinkRig rig;
  rig.cluster.confirm_later = true;
  int acked = 0;
  bool waiting = false;
  ASSERT_TRUE(
      rig.router
          .Subscribe(
              &rig.local, SubscribeTo({"p1"}), [&acked] { ++acked; }, &waiting)
          .ok());
  EXPECT_TRUE(waiting);
  EXPECT_EQ(acked, 0);
  ASSERT_EQ(rig.cluster.waits.size(), 1u);
  rig.cluster.waits[0]();
  EXPECT_EQ(acked, 1);
  // Nothing pending: the Ack is the caller's to send at once.
  rig.cluster.confirm_later = false;
  waiting = true;
  ASSERT_TRUE(
      rig.router
          .Subscribe(
              &rig.local, SubscribeTo({"p2"}), [&acked] { ++acked; }, &waiting)
          .ok());
  EXPECT_FALSE(waiting);
  EXPECT_EQ(acked, 1);
}

}  // namespace
}  // namespace channel::testing
