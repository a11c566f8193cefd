#include "broker/cluster/cluster_presence.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/broker/cluster/presence_bus.h"

namespace channel {
namespace {

using Clock = ClusterPresence::Clock;
using std::chrono::seconds;

using Cluster = PresenceBus;

TEST(ClusterPresenceTest, EveryBrokerCountsTheWholeCluster) {
  Cluster c;
  auto& a = c.Add("a");
  auto& b = c.Add("b");
  std::vector<std::unique_ptr<int>> ka, kb;
  auto now = Clock::now();
  Report(a, 0, 1, Join("g", 2, {"alice"}, true), &ka);
  Report(b, 0, 1, Join("g", 1, {"alice", "bob"}, true), &kb);
  c.Deliver(now);
  for (auto* n : {&a, &b}) {
    EXPECT_EQ(n->table.Get("g").connections, 3u) << n->id;
    EXPECT_EQ(n->table.Get("g").users, 2u) << n->id;  // alice once
  }
  // A local reporter goes: everyone forgets it.
  b.table.RemoveReporter(kb[0].get());
  b.presence->LocalGone(1);
  c.Deliver(now);
  EXPECT_EQ(a.table.Get("g").connections, 2u);
  EXPECT_EQ(a.table.Get("g").users, 1u);
}

TEST(ClusterPresenceTest, SilentBrokerExpiresAndAJoiningBrokerSyncs) {
  Cluster c;
  auto& a = c.Add("a");
  auto& b = c.Add("b");
  std::vector<std::unique_ptr<int>> ka, kb;
  auto now = Clock::now();
  Report(a, 0, 7, Join("g", 4, {}, true), &ka);
  c.Deliver(now);
  ASSERT_EQ(b.table.Get("g").connections, 4u);
  // a goes silent (crashed, cut off): after the expiry b drops its share.
  a.connected = false;
  b.presence->Tick(now + seconds(3));
  c.Deliver(now + seconds(3));
  EXPECT_EQ(b.table.Get("g").connections, 4u);  // not yet
  b.presence->Tick(now + seconds(6));
  EXPECT_EQ(b.table.Get("g").connections, 0u);
  EXPECT_EQ(b.presence->remote_brokers(), 0u);
  // a is back: it drops what it knew of others, asks for snapshots and
  // sends its own; both agree again.
  Report(b, 0, 9, Join("g", 1, {}, true), &kb);
  c.Deliver(now + seconds(6));
  a.connected = true;
  a.presence->OnDisconnected();
  a.presence->OnConnected();
  c.Deliver(now + seconds(7));
  EXPECT_EQ(a.table.Get("g").connections, 5u);
  EXPECT_EQ(b.table.Get("g").connections, 5u);
  // A third broker joining mid-way gets everything from one sync.
  auto& d = c.Add("d");
  d.presence->OnConnected();
  c.Deliver(now + seconds(8));
  EXPECT_EQ(d.table.Get("g").connections, 5u);
}

// A report too large for one NATS message goes in parts, every part under
// the limit, and the other broker ends with the same state.
TEST(ClusterPresenceTest, LargeReportsGoInParts) {
  Cluster c;
  auto& a = c.Add("a");
  auto& b = c.Add("b");
  std::vector<std::unique_ptr<int>> ka;
  v1::Presence big;
  big.set_reset(true);
  for (int g = 0; g < 30000; ++g) {
    v1::PresenceDelta* d = big.add_deltas();
    d->set_group("group-" + std::to_string(g));
    d->set_connections(1);
  }
  v1::PresenceDelta* crowd = big.add_deltas();
  crowd->set_group("crowd");
  crowd->set_connections(60000);
  for (int u = 0; u < 60000; ++u) {
    crowd->add_users_joined("user-" + std::to_string(u));
  }
  ASSERT_GT(big.ByteSizeLong(), 4 * ClusterPresence::kMaxReportBytes);
  const auto now = Clock::now();
  a.presence->Tick(now);  // b hears a, asks for a sync, gets it (empty)
  c.Deliver(now);
  // A live report, in parts.
  Report(a, 0, 1, big, &ka);
  c.Deliver(now);
  EXPECT_LE(c.largest(), ClusterPresence::kMaxReportBytes + 1024);
  for (auto* n : {&b}) {
    EXPECT_EQ(n->table.Get("group-29999").connections, 1u);
    EXPECT_EQ(n->table.Get("crowd").connections, 60000u);
    EXPECT_EQ(n->table.Get("crowd").users, 60000u);
    EXPECT_EQ(n->table.group_count(), 30001u);
  }
  // A snapshot for a joining broker, in parts too.
  auto& d = c.Add("d");
  d.presence->OnConnected();
  c.Deliver(now);
  EXPECT_LE(c.largest(), ClusterPresence::kMaxReportBytes + 1024);
  EXPECT_EQ(d.table.Get("crowd").users, 60000u);
  EXPECT_EQ(d.table.group_count(), 30001u);
}

// Messages from broker "other", numbered as it would.
class FromOther {
 public:
  std::string Next(v1::ClusterPresence::Kind kind,
                   const v1::Presence* report = nullptr, uint64_t skip = 0) {
    seq_ += 1 + skip;
    v1::ClusterPresence m;
    m.set_broker_id("other");
    m.set_kind(kind);
    m.set_seq(seq_);
    m.set_reporter(1);
    if (report) *m.mutable_report() = *report;
    return m.SerializeAsString();
  }

 private:
  uint64_t seq_ = 0;
};

std::vector<v1::ClusterPresence> Parse(const std::vector<std::string>& sent) {
  std::vector<v1::ClusterPresence> out;
  for (const auto& bytes : sent) {
    out.emplace_back();
    out.back().ParseFromString(bytes);
  }
  return out;
}

TEST(ClusterPresenceTest, GarbageAndOwnMessagesAreIgnored) {
  PresenceTable table(100);
  std::vector<std::string> sent;
  ClusterPresence p("me", &table,
                    [&](const std::string& bytes) { sent.push_back(bytes); });
  const auto now = Clock::now();
  p.OnMessage("\xff\xff not protobuf", now);
  v1::ClusterPresence own;
  own.set_broker_id("me");
  own.set_kind(v1::ClusterPresence::REPORT);
  own.set_seq(1);
  *own.mutable_report() = Join("g", 1);
  p.OnMessage(own.SerializeAsString(), now);
  EXPECT_EQ(p.malformed(), 2u);
  EXPECT_TRUE(sent.empty());
  // First contact with "other": a sync request for it alone.
  FromOther other;
  p.OnMessage(other.Next(v1::ClusterPresence::HEARTBEAT), now);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(Parse(sent)[0].kind(), v1::ClusterPresence::SYNC_REQUEST);
  EXPECT_EQ(Parse(sent)[0].target(), "other");
  p.OnMessage(other.Next(v1::ClusterPresence::SYNC_DONE), now);
  const v1::Presence negative = Join("g", -3);
  p.OnMessage(other.Next(v1::ClusterPresence::REPORT, &negative), now);
  EXPECT_EQ(p.malformed(), 3u);
  EXPECT_EQ(table.group_count(), 0u);
}

// A lost message (a gap in the numbers) drops that broker's share and asks
// it again; changes wait for the snapshots; a lost answer is asked again.
TEST(ClusterPresenceTest, GapDropsAndResyncs) {
  PresenceTable table(100);
  std::vector<std::string> sent;
  ClusterPresence p("me", &table,
                    [&](const std::string& bytes) { sent.push_back(bytes); });
  auto now = Clock::now();
  FromOther other;
  const v1::Presence snap = Join("g", 2, {}, true), more = Join("g", 1);
  p.OnMessage(other.Next(v1::ClusterPresence::REPORT, &more), now);
  EXPECT_EQ(table.Get("g").connections, 0u);  // a change before the sync
  p.OnMessage(other.Next(v1::ClusterPresence::REPORT, &snap), now);
  p.OnMessage(other.Next(v1::ClusterPresence::SYNC_DONE), now);
  p.OnMessage(other.Next(v1::ClusterPresence::REPORT, &more), now);
  EXPECT_EQ(table.Get("g").connections, 3u);
  EXPECT_EQ(p.syncs_requested(), 1u);
  // One message lost: the share is dropped and a sync asked for.
  p.OnMessage(other.Next(v1::ClusterPresence::REPORT, &more, 1), now);
  EXPECT_EQ(table.Get("g").connections, 0u);
  EXPECT_EQ(p.syncs_requested(), 2u);
  // No answer within expiry / 2: asked again (heartbeats keep it alive).
  now += std::chrono::seconds(3);
  p.OnMessage(other.Next(v1::ClusterPresence::HEARTBEAT), now);
  p.Tick(now);
  EXPECT_EQ(p.syncs_requested(), 3u);
  p.OnMessage(other.Next(v1::ClusterPresence::REPORT, &snap), now);
  p.OnMessage(other.Next(v1::ClusterPresence::SYNC_DONE), now);
  EXPECT_EQ(table.Get("g").connections, 2u);
  p.Tick(now + std::chrono::seconds(3));
  EXPECT_EQ(p.syncs_requested(), 3u);  // synced: no more requests
}

}  // namespace
}  // namespace channel
