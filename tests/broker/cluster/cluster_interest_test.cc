#include "broker/cluster/cluster_interest.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace channel {
namespace {

using Clock = ClusterInterest::Clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Brokers on one fake NATS subject: what one publishes reaches every other
// one, in order, when the test pumps. A broker can be cut off (its
// messages and those to it are lost) or held (messages to it wait).
class Bus {
 public:
  explicit Bus(int brokers, size_t part_bytes = 256 << 10) {
    ClusterInterest::Options options;
    options.expiry = seconds(5);
    options.window = seconds(2);
    options.max_part_bytes = part_bytes;
    told.resize(brokers);
    for (int i = 0; i < brokers; ++i) {
      // What broker i learns of the others' queue groups, in order.
      options.on_queue = [this, i](const std::string& broker,
                                   const std::string& channel,
                                   const std::string& group, bool joined) {
        told[i].push_back(
            absl::StrCat(broker, joined ? " +" : " -", channel, "/", group));
      };
      options.on_dropped = [this, i](const std::string& broker) {
        told[i].push_back(absl::StrCat(broker, " dropped"));
      };
      nodes_.push_back(std::make_unique<ClusterInterest>(
          absl::StrCat("b", i),
          [this, i](const std::string& bytes) {
            if (!cut_[i]) sent_.push_back({i, bytes});
          },
          options));
    }
    cut_.assign(brokers, false);
    held_.resize(brokers);
    hold_.assign(brokers, false);
  }
  ClusterInterest& operator[](int i) { return *nodes_[i]; }

  // Delivers everything sent (and what that causes) to every broker but
  // its sender; messages to held brokers wait.
  void Pump() {
    for (int rounds = 0; !sent_.empty() && rounds < 10000; ++rounds) {
      auto [from, bytes] = std::move(sent_.front());
      sent_.pop_front();
      for (size_t to = 0; to < nodes_.size(); ++to) {
        if (static_cast<int>(to) == from || cut_[to]) continue;
        if (hold_[to]) {
          held_[to].push_back(bytes);
        } else {
          nodes_[to]->OnMessage(bytes, now);
        }
      }
    }
  }
  // Lets a held broker have what waited for it.
  void Release(int i) {
    hold_[i] = false;
    for (const std::string& bytes : held_[i]) nodes_[i]->OnMessage(bytes, now);
    held_[i].clear();
    Pump();
  }
  void ConnectAll() {
    for (auto& n : nodes_) n->OnConnected(now);
    Pump();
  }
  // Time passes; every broker (but cut ones) ticks each second.
  void Advance(Clock::duration d) {
    const Clock::time_point end = now + d;
    while (now < end) {
      now = std::min(end, now + seconds(1));
      for (size_t i = 0; i < nodes_.size(); ++i) {
        if (!cut_[i]) nodes_[i]->Tick(now);
      }
      Pump();
    }
  }
  // Drops what is in flight (nobody receives it).
  void Lose() { sent_.clear(); }

  Clock::time_point now = Clock::time_point() + seconds(1000);
  std::vector<bool> cut_, hold_;
  std::vector<std::vector<std::string>> told;  // per broker (on_queue)

 private:
  std::vector<std::unique_ptr<ClusterInterest>> nodes_;
  std::deque<std::pair<int, std::string>> sent_;
  std::vector<std::vector<std::string>> held_;
};

// Two brokers past their start-up window, in sync.
Bus Settled(int brokers) {
  Bus bus(brokers);
  bus.ConnectAll();
  bus.Advance(seconds(3));
  return bus;
}

TEST(ClusterInterestTest, ForwardsAllUntilSettledThenOnlyWhatOthersWant) {
  Bus bus(2);
  bus.ConnectAll();
  // The start-up window: not every broker may be known yet.
  EXPECT_TRUE(bus[0].Wanted("x", bus.now));
  EXPECT_FALSE(bus[0].selective(bus.now));
  bus.Advance(seconds(3));
  ASSERT_TRUE(bus[0].selective(bus.now));
  EXPECT_EQ(bus[0].remote_brokers(), 1u);
  EXPECT_FALSE(bus[0].Wanted("x", bus.now));
  bus[1].Local("x", true);
  bus.Pump();
  EXPECT_TRUE(bus[0].Wanted("x", bus.now));
  EXPECT_FALSE(bus[0].Wanted("y", bus.now));
  EXPECT_FALSE(bus[1].Wanted("x", bus.now));  // its own interest: local
  bus[1].Local("x", false);
  bus.Pump();
  EXPECT_FALSE(bus[0].Wanted("x", bus.now));
}

TEST(ClusterInterestTest, AWaitEndsWhenEveryKnownBrokerApplied) {
  Bus bus = Settled(3);
  int done = 0;
  EXPECT_FALSE(bus[0].WaitFor([&done] { ++done; }, bus.now));  // nothing due
  bus.hold_[2] = true;
  bus[0].Local("x", true);
  ASSERT_TRUE(bus[0].WaitFor([&done] { ++done; }, bus.now));
  bus.Pump();
  EXPECT_EQ(done, 0);  // b1 applied it, b2 not yet
  EXPECT_TRUE(bus[1].Wanted("x", bus.now));
  // A second Subscribe of the same channel waits for the same addition.
  ASSERT_TRUE(bus[0].WaitFor([&done] { ++done; }, bus.now));
  bus.Release(2);
  EXPECT_EQ(done, 2);
  EXPECT_TRUE(bus[2].Wanted("x", bus.now));
  EXPECT_EQ(bus[0].waiting(), 0u);
}

TEST(ClusterInterestTest, ALostMessageMeansAllForwardedUntilTheSnapshot) {
  Bus bus = Settled(2);
  bus[1].Local("x", true);
  bus.Lose();  // b0 never hears of x
  bus[1].Local("y", true);
  // b0 sees the gap at once: it forwards everything (x included) and asks
  // b1 for its whole set; it acknowledges what it skipped, being safe.
  bus.hold_[1] = true;
  bus.Pump();
  EXPECT_FALSE(bus[0].selective(bus.now));
  EXPECT_TRUE(bus[0].Wanted("x", bus.now));
  EXPECT_TRUE(bus[0].Wanted("z", bus.now));
  bus.Release(1);
  ASSERT_TRUE(bus[0].selective(bus.now));
  EXPECT_TRUE(bus[0].Wanted("x", bus.now));
  EXPECT_TRUE(bus[0].Wanted("y", bus.now));
  EXPECT_FALSE(bus[0].Wanted("z", bus.now));
  EXPECT_GE(bus[0].syncs_requested(), 2u);  // the first contact, the gap
}

TEST(ClusterInterestTest, ASilentBrokerIsDroppedAndNotWaitedFor) {
  Bus bus = Settled(3);
  bus.cut_[2] = true;  // b2 vanishes (no FIN: just silence)
  int done = 0;
  bus[0].Local("x", true);
  ASSERT_TRUE(bus[0].WaitFor([&done] { ++done; }, bus.now));
  bus.Pump();
  EXPECT_EQ(done, 0);
  bus.Advance(seconds(4));
  EXPECT_EQ(done, 0);
  bus.Advance(seconds(2));
  EXPECT_EQ(done, 1);
  EXPECT_EQ(bus[0].remote_brokers(), 1u);
  EXPECT_TRUE(bus[0].selective(bus.now));
}

TEST(ClusterInterestTest, AStalledLoopForwardsAllAndResynchronises) {
  Bus bus = Settled(2);
  bus[1].Local("x", true);
  bus.Pump();
  // b0's loop does not run for 6 s (what reaches it waits in its inbox):
  // b1 drops it and no longer waits for it.
  bus.hold_[0] = true;
  bus.cut_[0] = true;
  bus.Advance(seconds(6));
  EXPECT_EQ(bus[1].remote_brokers(), 0u);
  int done = 0;
  bus[1].Local("y", true);
  EXPECT_FALSE(bus[1].WaitFor([&done] { ++done; }, bus.now));
  bus.Pump();
  bus.cut_[0] = false;
  // b0 runs again; a publish may be handled before its inbox: forwarded.
  EXPECT_FALSE(bus[0].selective(bus.now));
  EXPECT_TRUE(bus[0].Wanted("y", bus.now));
  bus[0].Tick(bus.now);  // re-joins: HELLO, snapshots asked of all
  bus.Pump();
  EXPECT_TRUE(bus[0].Wanted("y", bus.now));  // still not in sync
  bus.Release(0);
  EXPECT_TRUE(bus[0].selective(bus.now));
  EXPECT_TRUE(bus[0].Wanted("x", bus.now));
  EXPECT_TRUE(bus[0].Wanted("y", bus.now));
  EXPECT_FALSE(bus[0].Wanted("z", bus.now));
  EXPECT_EQ(bus[1].remote_brokers(), 1u);  // b1 knows it again
}

TEST(ClusterInterestTest, ANewcomerWaitsForItsWindowAndIsKnownAtOnce) {
  Bus bus(2);
  bus[0].OnConnected(bus.now);
  bus.Advance(seconds(3));
  bus[0].Local("a", true);
  bus.Pump();
  // b1 starts late: its HELLO is answered at once, so both know each other
  // within one round trip.
  bus[1].OnConnected(bus.now);
  bus.Pump();
  EXPECT_EQ(bus[0].remote_brokers(), 1u);
  EXPECT_EQ(bus[1].remote_brokers(), 1u);
  EXPECT_TRUE(bus[0].selective(bus.now));  // b1's whole (empty) set is in
  // A Subscribe on the newcomer: its Ack waits for the window, in which a
  // broker it has not heard of yet could still answer.
  int done = 0;
  bus[1].Local("n", true);
  ASSERT_TRUE(bus[1].WaitFor([&done] { ++done; }, bus.now));
  bus.Pump();
  EXPECT_EQ(done, 0);
  EXPECT_TRUE(bus[0].Wanted("n", bus.now));
  bus.Advance(seconds(2));
  EXPECT_EQ(done, 1);
  EXPECT_TRUE(bus[1].selective(bus.now));
  EXPECT_TRUE(bus[1].Wanted("a", bus.now));
}

TEST(ClusterInterestTest, ALargeSetArrivesInParts) {
  Bus bus(2, /*part_bytes=*/64);
  bus[1].OnConnected(bus.now);
  for (int i = 0; i < 100; ++i) bus[1].Local(absl::StrCat("chan-", i), true);
  bus.Advance(seconds(3));
  bus[0].OnConnected(bus.now);
  bus.Advance(seconds(3));
  ASSERT_TRUE(bus[0].selective(bus.now));
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(bus[0].Wanted(absl::StrCat("chan-", i), bus.now)) << i;
  }
  EXPECT_FALSE(bus[0].Wanted("chan-100", bus.now));
}

TEST(ClusterInterestTest, DisconnectForgetsTheViewAndDropsWaiters) {
  Bus bus = Settled(2);
  bus.hold_[1] = true;
  int done = 0;
  bus[0].Local("x", true);
  ASSERT_TRUE(bus[0].WaitFor([&done] { ++done; }, bus.now));
  bus[0].OnDisconnected();
  EXPECT_EQ(bus[0].waiting(), 0u);
  EXPECT_EQ(bus[0].remote_brokers(), 0u);
  EXPECT_TRUE(bus[0].Wanted("anything", bus.now));
  EXPECT_FALSE(bus[0].WaitFor([&done] { ++done; }, bus.now));
  EXPECT_EQ(done, 0);  // no Ack is owed: the broker closes its clients
}

TEST(ClusterInterestTest, MalformedMessagesAreCountedAndIgnored) {
  Bus bus = Settled(2);
  const std::vector<std::string> inputs = {"\xff\xff\xff", std::string(),
                                           [] {  // our own id
                                             v1::ClusterInterest m;
                                             m.set_broker_id("b0");
                                             m.set_seq(1);
                                             return m.SerializeAsString();
                                           }()};
  for (const std::string& bytes : inputs) bus[0].OnMessage(bytes, bus.now);
  EXPECT_EQ(bus[0].malformed(), inputs.size());
  EXPECT_TRUE(bus[0].selective(bus.now));
}

TEST(ClusterInterestTest, ABrokerHeardElsewhereButSilentHereStopsSkipping) {
  size_t heard = 0;
  ClusterInterest::Options options;
  options.window = seconds(0);
  options.brokers_heard = [&heard] { return heard; };
  ClusterInterest alone(
      "b0", [](const std::string&) {}, options);
  const Clock::time_point now = Clock::time_point() + seconds(1000);
  alone.OnConnected(now);
  EXPECT_TRUE(alone.selective(now));
  heard = 1;  // an older broker: presence, no interest messages
  EXPECT_FALSE(alone.selective(now));
  EXPECT_TRUE(alone.Wanted("x", now));
}

TEST(ClusterInterestTest, QueueGroupsAreToldAwaitedButNeverWanted) {
  Bus bus = Settled(2);
  bus[1].LocalQueue("events", "app", true);
  bool done = false;
  ASSERT_TRUE(bus[1].WaitFor([&done] { done = true; }, bus.now));
  bus.Pump();
  EXPECT_TRUE(done);  // the other broker applied it: an Ack may go
  EXPECT_EQ(bus.told[0], std::vector<std::string>{"b1 +events/app"});
  // Events of a queue group go to the broker chosen, never to a channel's
  // subscribers there.
  EXPECT_FALSE(bus[0].Wanted("events", bus.now));
  bus[1].LocalQueue("events", "app", true);  // already told: nothing
  bus[1].LocalQueue("events", "app", false);
  bus.Pump();
  EXPECT_EQ(bus.told[0],
            (std::vector<std::string>{"b1 +events/app", "b1 -events/app"}));
}

TEST(ClusterInterestTest, AResyncKeepsQueueGroupsTheSnapshotStillHas) {
  Bus bus = Settled(2);
  bus[1].LocalQueue("events", "g1", true);
  bus[1].LocalQueue("events", "g2", true);
  bus.Pump();
  ASSERT_EQ(bus.told[0].size(), 2u);
  bus[1].LocalQueue("events", "g2", false);
  bus.Lose();               // broker 0 misses that g2 is gone
  bus[1].Local("x", true);  // the gap shows: a snapshot is asked for
  bus.Pump();
  // g1 was never left (its bindings stay); g2's end is learnt.
  EXPECT_EQ(bus.told[0],
            (std::vector<std::string>{"b1 +events/g1", "b1 +events/g2",
                                      "b1 -events/g2"}));
  EXPECT_TRUE(bus[0].selective(bus.now));
  // A broker leaving takes its groups along, then is dropped.
  bus[1].Leave();
  bus.Pump();
  EXPECT_EQ(bus.told[0].size(), 5u);
  EXPECT_EQ(bus.told[0][3], "b1 -events/g1");
  EXPECT_EQ(bus.told[0][4], "b1 dropped");
}

TEST(ClusterInterestTest, QueueGroupsComeInSnapshotsToANewcomer) {
  Bus bus(3);
  bus.cut_[2] = true;
  bus.ConnectAll();
  bus.Advance(seconds(3));
  bus[0].LocalQueue("events", "app", true);
  bus[0].LocalQueue("other", "app", true);
  bus.Pump();
  bus.cut_[2] = false;
  bus[2].OnConnected(bus.now);
  bus.Pump();
  std::vector<std::string> told = bus.told[2];
  std::sort(told.begin(), told.end());
  EXPECT_EQ(told,
            (std::vector<std::string>{"b0 +events/app", "b0 +other/app"}));
}

}  // namespace
}  // namespace channel
