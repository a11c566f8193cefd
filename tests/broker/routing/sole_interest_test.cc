// Sole-interest grants: SoleInterest on its own, then through the Router
// (who is granted, when a revoke holds a Subscribe's Ack, the PHP bridge,
// cluster mode, closed holders), with fake subscribers.
#include "broker/routing/sole_interest.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "broker/php/php_bridge.h"
#include "broker/routing/router.h"
#include "gtest/gtest.h"

namespace channel {
namespace {

using Clock = SoleInterest::Clock;

// Records the Interest frames it is sent; can refuse them (full output).
class FakeHolder : public Subscriber {
 public:
  explicit FakeHolder(bool wants = true) : wants_(wants) {}
  bool Deliver(OutgoingEvent&) override {
    ++events;
    return true;
  }
  bool WantsSoleInterest() const override { return wants_; }
  bool SendInterest(const std::string& channel, uint64_t grant,
                    bool sole) override {
    if (full) return false;
    frames.push_back({channel, grant, sole});
    if (sole) {
      grants[channel] = grant;
    } else {
      grants.erase(channel);
    }
    return true;
  }
  void CloseUnreleased(absl::string_view reason) override {
    closed_reason = std::string(reason);
  }
  bool Holds(const std::string& channel) const {
    return grants.count(channel) != 0;
  }
  // The last frame's grant id for `channel`.
  uint64_t LastGrant(const std::string& channel) const {
    for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
      if (it->channel == channel) return it->grant;
    }
    return 0;
  }

  struct Frame {
    std::string channel;
    uint64_t grant;
    bool sole;
  };
  std::vector<Frame> frames;
  std::map<std::string, uint64_t> grants;
  std::string closed_reason;
  bool full = false;
  int events = 0;

 private:
  bool wants_;
};

TEST(SoleInterestTest, GrantsTheOnlySubscriberAndRevokesWhenAnotherComes) {
  SoleInterest sole(std::chrono::seconds(5), "group:");
  FakeHolder a;
  sole.Update("group:1", &a);
  ASSERT_TRUE(a.Holds("group:1"));
  EXPECT_EQ(sole.grants(), 1u);
  sole.Update("group:1", &a);  // still alone: nothing new
  EXPECT_EQ(a.frames.size(), 1u);

  sole.Update("group:1", nullptr);  // a second subscriber
  ASSERT_EQ(a.frames.size(), 2u);
  EXPECT_FALSE(a.frames.back().sole);
  EXPECT_EQ(sole.revoked_total(), 1u);
  // Until the holder answers, the grant exists and is not granted again.
  sole.Update("group:1", &a);
  EXPECT_EQ(a.frames.size(), 2u);
  EXPECT_EQ(sole.grants(), 1u);

  EXPECT_FALSE(sole.Released(&a, "group:1", a.LastGrant("group:1") + 1));
  EXPECT_TRUE(sole.Released(&a, "group:1", a.LastGrant("group:1")));
  EXPECT_EQ(sole.grants(), 0u);
  // A second release of the same grant is stale.
  EXPECT_FALSE(sole.Released(&a, "group:1", a.LastGrant("group:1")));
}

TEST(SoleInterestTest, WaitForRunsOnceEveryNamedRevokeEnded) {
  SoleInterest sole(std::chrono::seconds(5), "group:");
  FakeHolder a;
  FakeHolder b;
  sole.Update("x", &a);
  sole.Update("y", &b);
  sole.Update("z", &a);
  sole.Update("x", nullptr);
  sole.Update("y", nullptr);
  int done = 0;
  // "z" is granted, not revoking: nothing to wait for there.
  EXPECT_FALSE(sole.WaitFor({"z"}, [&done] { ++done; }));
  ASSERT_TRUE(
      sole.WaitFor({"x", "y", "x", "z", "unknown"}, [&done] { ++done; }));
  EXPECT_TRUE(sole.Released(&a, "x", a.LastGrant("x")));
  EXPECT_EQ(done, 0);
  EXPECT_TRUE(sole.Released(&b, "y", b.LastGrant("y")));
  EXPECT_EQ(done, 1);
}

TEST(SoleInterestTest, AHolderThatCannotBeToldIsNotGranted) {
  SoleInterest sole(std::chrono::seconds(5), "");
  FakeHolder a;
  a.full = true;
  sole.Update("c", &a);
  EXPECT_EQ(sole.grants(), 0u);
  a.full = false;
  sole.Update("c", &a);
  EXPECT_EQ(sole.grants(), 1u);
}

TEST(SoleInterestTest, AClosedHolderEndsItsGrantsAndReleasesWaiters) {
  SoleInterest sole(std::chrono::seconds(5), "");
  FakeHolder a;
  sole.Update("c", &a);
  sole.Update("d", &a);
  sole.Update("c", nullptr);
  int done = 0;
  ASSERT_TRUE(sole.WaitFor({"c"}, [&done] { ++done; }));
  std::vector<std::string> ended = sole.HolderGone(&a);
  std::sort(ended.begin(), ended.end());
  EXPECT_EQ(ended, (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(done, 1);
  EXPECT_EQ(sole.grants(), 0u);
  EXPECT_TRUE(sole.HolderGone(&a).empty());
}

TEST(SoleInterestTest, OverdueNamesHoldersLateToReleaseOnce) {
  SoleInterest sole(std::chrono::milliseconds(100), "");
  FakeHolder a;
  FakeHolder b;
  sole.Update("c", &a);
  sole.Update("d", &a);
  sole.Update("e", &b);
  sole.Update("c", nullptr);
  sole.Update("d", nullptr);
  sole.Update("e", nullptr);
  EXPECT_TRUE(sole.Released(&b, "e", b.LastGrant("e")));
  EXPECT_TRUE(sole.Overdue(Clock::now()).empty());
  const auto later = Clock::now() + std::chrono::seconds(1);
  std::vector<Subscriber*> overdue = sole.Overdue(later);
  ASSERT_EQ(overdue.size(), 1u);  // a, once; b answered
  EXPECT_EQ(overdue[0], &a);
  EXPECT_TRUE(sole.Overdue(later).empty());
}

TEST(SoleInterestTest, RevokeWatchedVisitsEachGrantOnce) {
  SoleInterest sole(std::chrono::seconds(5), "group:");
  FakeHolder a;
  sole.Update("group:1", &a);
  sole.Update("group:2", &a);
  sole.Update("user:1", &a);
  std::vector<std::string> revoked = sole.RevokeWatched();
  std::sort(revoked.begin(), revoked.end());
  EXPECT_EQ(revoked, (std::vector<std::string>{"group:1", "group:2"}));
  EXPECT_TRUE(a.Holds("user:1"));
  EXPECT_FALSE(a.Holds("group:1"));
  EXPECT_TRUE(sole.RevokeWatched().empty());
}

// Through the Router.

v1::Subscribe SubscribeTo(const std::string& channel) {
  v1::Subscribe request;
  request.add_channels(channel);
  return request;
}

v1::Unsubscribe UnsubscribeFrom(const std::string& channel) {
  v1::Unsubscribe request;
  request.add_channels(channel);
  return request;
}

class RouterSoleTest : public ::testing::Test {
 protected:
  BrokerOptions options_;
  BrokerStats stats_;
};

TEST_F(RouterSoleTest, OnlyASoleSubscriberThatAskedIsGranted) {
  Router router(options_, &stats_);
  FakeHolder a;
  FakeHolder plain(/*wants=*/false);
  ASSERT_TRUE(router.Subscribe(&a, SubscribeTo("group:1")).ok());
  EXPECT_TRUE(a.Holds("group:1"));
  ASSERT_TRUE(router.Subscribe(&plain, SubscribeTo("group:2")).ok());
  EXPECT_EQ(router.sole_interest().grants(), 1u);
}

TEST_F(RouterSoleTest, ASecondSubscriberIsAcknowledgedAfterTheRelease) {
  Router router(options_, &stats_);
  FakeHolder a;
  FakeHolder b;
  ASSERT_TRUE(router.Subscribe(&a, SubscribeTo("group:1")).ok());
  int acked = 0;
  bool waiting = false;
  ASSERT_TRUE(
      router
          .Subscribe(
              &b, SubscribeTo("group:1"), [&acked] { ++acked; }, &waiting)
          .ok());
  EXPECT_TRUE(waiting);
  EXPECT_EQ(acked, 0);
  EXPECT_FALSE(a.Holds("group:1"));  // revoked
  // Subscribing again while the revoke is out waits for it too.
  bool again = false;
  ASSERT_TRUE(router
                  .Subscribe(
                      &b, SubscribeTo("group:1"), [&acked] { ++acked; }, &again)
                  .ok());
  EXPECT_TRUE(again);
  router.ReleaseSole(&a, "group:1", a.LastGrant("group:1"));
  EXPECT_EQ(acked, 2);
  // Two subscribers: nobody holds it. When a leaves, b does.
  EXPECT_FALSE(b.Holds("group:1"));
  ASSERT_TRUE(router.Unsubscribe(&a, UnsubscribeFrom("group:1")).ok());
  EXPECT_TRUE(b.Holds("group:1"));
}

TEST_F(RouterSoleTest, AHolderLeavingIsRevokedThenTheChannelIsFree) {
  Router router(options_, &stats_);
  FakeHolder a;
  FakeHolder b;
  ASSERT_TRUE(router.Subscribe(&a, SubscribeTo("c")).ok());
  const uint64_t first = a.LastGrant("c");
  ASSERT_TRUE(router.Unsubscribe(&a, UnsubscribeFrom("c")).ok());
  // It may still have the grant in flight: the revoke follows it, and a
  // newcomer waits for the answer.
  EXPECT_FALSE(a.frames.back().sole);
  bool waiting = false;
  int acked = 0;
  ASSERT_TRUE(router
                  .Subscribe(
                      &b, SubscribeTo("c"), [&acked] { ++acked; }, &waiting)
                  .ok());
  EXPECT_TRUE(waiting);
  router.ReleaseSole(&a, "c", first);
  EXPECT_EQ(acked, 1);
  EXPECT_TRUE(b.Holds("c"));  // granted once a's grant ended
}

TEST_F(RouterSoleTest, AClosedHolderFreesWaitersAndTheChannel) {
  Router router(options_, &stats_);
  FakeHolder a;
  FakeHolder b;
  ASSERT_TRUE(router.Subscribe(&a, SubscribeTo("c")).ok());
  int acked = 0;
  bool waiting = false;
  ASSERT_TRUE(router
                  .Subscribe(
                      &b, SubscribeTo("c"), [&acked] { ++acked; }, &waiting)
                  .ok());
  ASSERT_TRUE(waiting);
  router.RemoveAll(&a);
  EXPECT_EQ(acked, 1);
  EXPECT_TRUE(b.Holds("c"));
}

TEST_F(RouterSoleTest, AHolderLateToReleaseIsClosed) {
  options_.sole_release_timeout = std::chrono::milliseconds(50);
  Router router(options_, &stats_);
  FakeHolder a;
  FakeHolder b;
  ASSERT_TRUE(router.Subscribe(&a, SubscribeTo("c")).ok());
  ASSERT_TRUE(router.Subscribe(&b, SubscribeTo("c")).ok());
  router.ExpireSole(Clock::now());
  EXPECT_TRUE(a.closed_reason.empty());
  router.ExpireSole(Clock::now() + std::chrono::seconds(1));
  EXPECT_NE(a.closed_reason.find("not released"), std::string::npos);
}

TEST_F(RouterSoleTest, ThePhpBridgeChannelKeepsGroupsShared) {
  Router router(options_, &stats_);
  PhpBridge bridge(&router, options_.php_group_channel);
  router.set_observer(&bridge);  // as BrokerServer does when it is enabled
  FakeHolder a;
  FakeHolder php(/*wants=*/false);
  ASSERT_TRUE(router.Subscribe(&a, SubscribeTo("group:1")).ok());
  ASSERT_TRUE(router.Subscribe(&a, SubscribeTo("user:1")).ok());
  ASSERT_TRUE(a.Holds("group:1"));
  // The bridge's first subscriber revokes group grants (not others) and
  // its Ack waits for them.
  bool waiting = false;
  int acked = 0;
  ASSERT_TRUE(router
                  .Subscribe(
                      &php, SubscribeTo(options_.php_group_channel),
                      [&acked] { ++acked; }, &waiting)
                  .ok());
  EXPECT_TRUE(waiting);
  EXPECT_FALSE(a.Holds("group:1"));
  EXPECT_TRUE(a.Holds("user:1"));
  router.ReleaseSole(&a, "group:1", a.LastGrant("group:1"));
  EXPECT_EQ(acked, 1);
  EXPECT_FALSE(a.Holds("group:1"));  // not granted again while bridged
  ASSERT_TRUE(router.Subscribe(&a, SubscribeTo("group:2")).ok());
  EXPECT_FALSE(a.Holds("group:2"));
}

class NullCluster : public ClusterLink {
 public:
  bool up() const override { return true; }
  void Interest(const std::string&, bool) override {}
  absl::Status Forward(const v1::Envelope&) override {
    return absl::OkStatus();
  }
  bool WaitForInterest(std::function<void()>) override { return false; }
};

TEST_F(RouterSoleTest, ClusterModeMeansNoGrants) {
  // Other brokers' subscribers are out of sight.
  Router router(options_, &stats_);
  NullCluster cluster;
  router.set_cluster(&cluster);
  FakeHolder a;
  ASSERT_TRUE(router.Subscribe(&a, SubscribeTo("c")).ok());
  EXPECT_EQ(router.sole_interest().grants(), 0u);
}

TEST_F(RouterSoleTest, DisabledMeansNoGrants) {
  options_.sole_interest = false;
  Router router(options_, &stats_);
  FakeHolder a;
  ASSERT_TRUE(router.Subscribe(&a, SubscribeTo("c")).ok());
  EXPECT_EQ(router.sole_interest().grants(), 0u);
  EXPECT_TRUE(a.frames.empty());
}

}  // namespace
}  // namespace channel
