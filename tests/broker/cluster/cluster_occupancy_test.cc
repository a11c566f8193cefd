// Occupancy across a cluster: one broker (the lowest settled id) tells the
// application's occupied/vacated events from every broker's reports.
#include "broker/cluster/cluster_occupancy.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/broker/cluster/presence_bus.h"

namespace channel {
namespace {

using Clock = ClusterPresence::Clock;
using Node = PresenceBus::Node;
using Strings = std::vector<std::string>;
using std::chrono::seconds;

// A broker's local reporters, as PresenceService drives ClusterPresence.
class Local {
 public:
  explicit Local(Node* node) : node_(node) {}
  void Report(int reporter, const v1::Presence& p, Clock::time_point now) {
    while (keys_.size() <= static_cast<size_t>(reporter)) {
      keys_.push_back(std::make_unique<int>());
    }
    PresenceTable::Edges edges;
    ASSERT_TRUE(node_->table.Apply(keys_[reporter].get(), p, &edges).ok());
    node_->presence->LocalReport(keys_[reporter].get(), reporter + 1, p);
    node_->presence->LocalEdges(edges, now);
  }
  void Gone(int reporter, Clock::time_point now) {
    PresenceTable::Edges edges;
    node_->table.RemoveReporter(keys_[reporter].get(), &edges);
    node_->presence->LocalGone(reporter + 1);
    node_->presence->LocalEdges(edges, now);
  }

 private:
  Node* node_;
  std::vector<std::unique_ptr<int>> keys_;
};

// Brokers a, b, c, connected and settled; a tells.
class ClusterOccupancyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (Node* n : {&a_, &b_, &c_}) n->presence->OnConnected(now_);
    bus_.Deliver(now_);
    Advance(3);
    Advance(3);  // settled (connected and synced for the window)
    Advance(3);  // and for half of it more: the lowest id tells
    ASSERT_TRUE(a_.presence->occupancy().leads());
    ASSERT_FALSE(b_.presence->occupancy().leads());
    ASSERT_FALSE(c_.presence->occupancy().leads());
  }
  void Advance(int s) {
    now_ += seconds(s);
    bus_.TickAll(now_);
  }

  PresenceBus bus_;
  Node& a_ = bus_.Add("a");
  Node& b_ = bus_.Add("b");
  Node& c_ = bus_.Add("c");
  Local la_{&a_}, lb_{&b_}, lc_{&c_};
  Clock::time_point now_ = Clock::now();
};

// Two brokers' first joins before either hears the other: one occupied;
// their last leaves at one moment: one vacated (each broker alone saw
// neither).
TEST_F(ClusterOccupancyTest, SimultaneousEdgesOnTwoBrokersAreToldOnce) {
  lb_.Report(0, Join("g", 1, {}, true), now_);
  lc_.Report(0, Join("g", 2, {}, true), now_);
  bus_.Deliver(now_);
  EXPECT_EQ(a_.told, Strings{"+g"});
  lb_.Gone(0, now_);
  lc_.Gone(0, now_);
  bus_.Deliver(now_);
  EXPECT_EQ(a_.told, (Strings{"+g", "-g"}));
  EXPECT_TRUE(b_.told.empty());
  EXPECT_TRUE(c_.told.empty());
  // The others' copies of what was told follow the teller's.
  lb_.Report(0, Join("h", 1, {}, true), now_);
  bus_.Deliver(now_);
  EXPECT_EQ(b_.presence->occupancy().told(), 1u);
  EXPECT_EQ(c_.presence->occupancy().told(), 1u);
}

// The teller cut off: nobody tells until it expires; then the next lowest
// id tells what changed meanwhile (its groups, gone with it, vacated; a
// group joined meanwhile occupied), once.
TEST_F(ClusterOccupancyTest, TheNextTellerTellsWhatChangedMeanwhile) {
  la_.Report(0, Join("only-a", 1, {}, true), now_);
  lb_.Report(0, Join("kept", 1, {}, true), now_);
  bus_.Deliver(now_);
  EXPECT_EQ(a_.told, (Strings{"+only-a", "+kept"}));
  a_.connected = false;
  lc_.Report(0, Join("new", 1, {}, true), now_);
  Advance(3);
  EXPECT_TRUE(b_.told.empty());  // a not expired yet: nobody tells
  Advance(3);                    // expired: b, settled all along, tells
  EXPECT_TRUE(b_.presence->occupancy().leads());
  Strings told = b_.told;
  std::sort(told.begin(), told.end());
  EXPECT_EQ(told, (Strings{"+new", "-only-a"}));
  EXPECT_TRUE(c_.told.empty());
  Advance(3);
  EXPECT_EQ(b_.told.size(), 2u);  // not again
}

// The teller dies the moment it has told the application a group occupied:
// the others had heard of it first, so the next teller tells it vacated
// once the dead one's share is dropped.
TEST_F(ClusterOccupancyTest,
       ATellerDeadRightAfterTellingLeavesTheEdgeToTheNext) {
  a_.presence->set_on_edge([this](const std::string& group, bool occupied) {
    a_.told.push_back((occupied ? "+" : "-") + group);
    a_.connected = false;  // nothing it sends from here on arrives
  });
  la_.Report(0, Join("solo", 1, {}, true), now_);
  bus_.Deliver(now_);
  ASSERT_EQ(a_.told, Strings{"+solo"});
  EXPECT_EQ(b_.presence->occupancy().told(), 1u);
  Advance(3);
  Advance(3);  // a expired: b tells
  EXPECT_TRUE(b_.presence->occupancy().leads());
  EXPECT_EQ(b_.told, Strings{"-solo"});
  EXPECT_TRUE(c_.told.empty());
}

// A broker with a lower id joins: it learns what was told (a snapshot, in
// parts when large), takes over without telling it again, and the old
// teller stops.
TEST_F(ClusterOccupancyTest, ALowerIdTakesOverWithoutRepeating) {
  for (int g = 0; g < 20000; ++g) {
    lb_.Report(
        g,
        Join("a-group-name-of-some-length-" + std::to_string(g), 1, {}, true),
        now_);
  }
  bus_.Deliver(now_);
  ASSERT_EQ(a_.told.size(), 20000u);
  Node& first = bus_.Add("0");
  first.presence->OnConnected(now_);
  bus_.Deliver(now_);
  EXPECT_LE(bus_.largest(), ClusterOccupancy::kMessageBytes + 1024);
  EXPECT_EQ(first.presence->occupancy().told(), 20000u);
  for (int i = 0; i < 3; ++i) Advance(3);
  EXPECT_TRUE(first.presence->occupancy().leads());
  EXPECT_FALSE(a_.presence->occupancy().leads());
  EXPECT_TRUE(first.told.empty());
  lb_.Report(0, Join("a-group-name-of-some-length-0", -1), now_);
  bus_.Deliver(now_);
  EXPECT_EQ(first.told, Strings{"-a-group-name-of-some-length-0"});
  EXPECT_EQ(a_.told.size(), 20000u);
}

// A lost message makes the teller drop a broker's share and sync it again:
// it pauses meanwhile (that drop is no departure, and nobody else takes
// over), then tells what really changed, once.
TEST_F(ClusterOccupancyTest, AResyncIsNoDeparture) {
  lb_.Report(0, Join("g", 1, {}, true), now_);
  bus_.Deliver(now_);
  ASSERT_EQ(a_.told, Strings{"+g"});
  // b's next message is lost on its way: a sees the gap at the one after.
  b_.connected = false;
  lb_.Report(1, Join("h", 1, {}, true), now_);
  b_.connected = true;
  lb_.Report(2, Join("i", 1, {}, true), now_);
  bus_.Deliver(now_);
  EXPECT_TRUE(a_.presence->occupancy().leads());
  Strings told = a_.told;
  std::sort(told.begin(), told.end());
  EXPECT_EQ(told, (Strings{"+g", "+h", "+i"}));  // never "-g"
  EXPECT_TRUE(b_.told.empty());
  EXPECT_TRUE(c_.told.empty());
  Advance(3);
  EXPECT_EQ(a_.told.size(), 3u);
}

}  // namespace
}  // namespace channel
