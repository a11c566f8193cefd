#include "broker/presence/presence_table.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace channel {
namespace {

// A report: group -> (connections delta, users joined, users left).
struct Delta {
  std::string group;
  int64_t connections;
  std::vector<std::string> joined, left;
};
v1::Presence Report(bool reset, const std::vector<Delta>& deltas) {
  v1::Presence p;
  p.set_reset(reset);
  for (const Delta& d : deltas) {
    v1::PresenceDelta* out = p.add_deltas();
    out->set_group(d.group);
    out->set_connections(d.connections);
    for (const auto& u : d.joined) out->add_users_joined(u);
    for (const auto& u : d.left) out->add_users_left(u);
  }
  return p;
}

v1::Presence Delta(bool reset, const std::string& group, int64_t connections,
                   std::vector<std::string> joined = {},
                   std::vector<std::string> left = {}) {
  v1::Presence p;
  p.set_reset(reset);
  v1::PresenceDelta* d = p.add_deltas();
  d->set_group(group);
  d->set_connections(connections);
  for (auto& u : joined) d->add_users_joined(u);
  for (auto& u : left) d->add_users_left(u);
  return p;
}

v1::Presence Snapshot(const PresenceTable& table, const void* reporter) {
  return table.Snapshot(reporter);
}

TEST(PresenceTableTest, SumsReportersAndForgetsOneThatLeaves) {
  PresenceTable table(100);
  int gw1, gw2;
  ASSERT_TRUE(table.Apply(&gw1, Delta(false, "g", 3, {"alice", "bob"})).ok());
  ASSERT_TRUE(table.Apply(&gw2, Delta(false, "g", 2, {"alice"})).ok());
  EXPECT_EQ(table.Get("g").connections, 5u);
  EXPECT_EQ(table.Get("g").users, 2u);  // alice counted once
  ASSERT_TRUE(table.Apply(&gw1, Delta(false, "g", -1, {}, {"bob"})).ok());
  EXPECT_EQ(table.Get("g").users, 1u);
  table.RemoveReporter(&gw2);  // a dead gateway's members leave with it
  EXPECT_EQ(table.Get("g").connections, 2u);
  EXPECT_EQ(table.Get("g").users, 1u);
  // A snapshot replaces everything gw1 reported.
  ASSERT_TRUE(table.Apply(&gw1, Delta(true, "h", 1)).ok());
  EXPECT_EQ(table.Get("g").connections, 0u);
  EXPECT_EQ(table.Get("h").connections, 1u);
  EXPECT_EQ(table.group_count(), 1u);
}

TEST(PresenceTableTest, RefusedReportsChangeNothing) {
  PresenceTable table(3);
  int gw;
  ASSERT_TRUE(table.Apply(&gw, Delta(false, "g", 1, {"a"})).ok());
  EXPECT_FALSE(table.Apply(&gw, Delta(false, "g", -5)).ok());  // negative
  EXPECT_FALSE(
      table.Apply(&gw, Delta(false, "h", 1, {"b", "c", "d"})).ok());  // bound
  EXPECT_EQ(table.Get("g").connections, 1u);
  EXPECT_EQ(table.Get("h").connections, 0u);
}

TEST(PresenceTableTest, ListsInOrderWithPrefixAndCursor) {
  PresenceTable table(100);
  int gw;
  for (const char* g : {"room-b", "room-a", "other", "room-c"}) {
    ASSERT_TRUE(table.Apply(&gw, Delta(false, g, 1)).ok());
  }
  auto page = table.List("room-", "", 2);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].first, "room-a");
  EXPECT_EQ(page[1].first, "room-b");
  page = table.List("room-", "room-b", 2);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].first, "room-c");
}

// The entry limit counts exactly (groups + users held), across many small
// reports, so a reporter can always use all of it and never more.
TEST(PresenceTableTest, EntryLimitIsExactAcrossReports) {
  PresenceTable t(4);
  int a;
  ASSERT_TRUE(t.Apply(&a, Report(false, {{"g1", 1, {"u1"}, {}}})).ok());  // 2
  ASSERT_TRUE(t.Apply(&a, Report(false, {{"g2", 1, {}, {}}})).ok());      // 3
  ASSERT_TRUE(t.Apply(&a, Report(false, {{"g1", 0, {"u2"}, {}}})).ok());  // 4
  const absl::Status full = t.Apply(&a, Report(false, {{"g3", 1, {}, {}}}));
  EXPECT_TRUE(absl::IsResourceExhausted(full)) << full;
  EXPECT_EQ(t.Get("g3").connections, 0u);  // refused: nothing changed
  // Leaving frees entries for others: g2 goes, g3 fits.
  ASSERT_TRUE(t.Apply(&a, Report(false, {{"g2", -1, {}, {}}})).ok());
  ASSERT_TRUE(t.Apply(&a, Report(false, {{"g3", 1, {}, {}}})).ok());
  // A reset replaces everything: 4 new entries fit whatever was held.
  ASSERT_TRUE(t.Apply(&a, Report(true, {{"x", 1, {"a", "b", "c"}, {}}})).ok());
  EXPECT_EQ(t.Get("g1").connections, 0u);
  EXPECT_EQ(t.Get("x").users, 3u);
}

// A snapshot applied to another table reproduces the reporter exactly.
TEST(PresenceTableTest, SnapshotReproducesTheReporter) {
  PresenceTable t(100), copy(100);
  int a, other;
  ASSERT_TRUE(t.Apply(&a, Report(false, {{"g", 3, {"u", "u", "v"}, {}},
                                         {"h", 1, {}, {}}}))
                  .ok());
  ASSERT_TRUE(copy.Apply(&other, Report(true, {{"stale", 5, {}, {}}})).ok());
  ASSERT_TRUE(copy.Apply(&other, t.Snapshot(&a)).ok());
  EXPECT_EQ(copy.Get("stale").connections, 0u);
  EXPECT_EQ(copy.Get("g").connections, 3u);
  EXPECT_EQ(copy.Get("g").users, 2u);
  EXPECT_EQ(copy.Get("h").connections, 1u);
  // "u" joined twice: leaving once keeps it, as in the original.
  ASSERT_TRUE(copy.Apply(&other, Report(false, {{"g", 0, {}, {"u"}}})).ok());
  EXPECT_EQ(copy.Get("g").users, 2u);
  int none;
  EXPECT_TRUE(t.Snapshot(&none).reset());
  EXPECT_EQ(t.Snapshot(&none).deltas_size(), 0);
}

// Member edges of groups with member lists: a user's first reporter is
// its arrival (with the info it gave), its last one gone its departure,
// whatever mix of deltas, snapshots and removals gets it there.
TEST(PresenceTableTest, MemberEdgesFollowUsersAcrossReporters) {
  PresenceTable table(100);
  table.set_members_of([](const std::string& g) { return g == "chat"; });
  int gw1, gw2;
  auto joined = [](const std::string& group, const std::string& user,
                   const std::string& info) {
    v1::Presence p;
    v1::PresenceDelta* d = p.add_deltas();
    d->set_group(group);
    d->set_connections(1);
    d->add_users_joined(user);
    d->add_infos(info);
    return p;
  };
  PresenceTable::MemberEdges edges;
  ASSERT_TRUE(
      table.Apply(&gw1, joined("chat", "ann", R"({"n":1})"), nullptr, &edges)
          .ok());
  ASSERT_EQ(edges.size(), 1u);
  EXPECT_EQ(edges[0].user, "ann");
  EXPECT_EQ(edges[0].info, R"({"n":1})");
  EXPECT_TRUE(edges[0].added);
  // Another tab elsewhere: no edge; the first info stays.
  edges.clear();
  ASSERT_TRUE(
      table.Apply(&gw2, joined("chat", "ann", R"({"n":2})"), nullptr, &edges)
          .ok());
  EXPECT_TRUE(edges.empty());
  EXPECT_EQ(table.Members("chat").at("ann"), R"({"n":1})");
  // Groups without member lists tell nothing and keep no info.
  ASSERT_TRUE(
      table.Apply(&gw1, joined("other", "ann", R"({"n":3})"), nullptr, &edges)
          .ok());
  EXPECT_TRUE(edges.empty());
  EXPECT_EQ(table.Members("other").at("ann"), "{}");
  // gw1 leaves; ann is still there through gw2.
  table.RemoveReporter(&gw1, nullptr, &edges);
  EXPECT_TRUE(edges.empty());
  // A snapshot from gw2 that still holds ann: no edge (not a leave and a
  // join); one without her: her departure.
  ASSERT_TRUE(table.Apply(&gw2, Snapshot(table, &gw2), nullptr, &edges).ok());
  EXPECT_TRUE(edges.empty());
  ASSERT_TRUE(table.Apply(&gw2, Delta(true, "chat", 0), nullptr, &edges).ok());
  ASSERT_EQ(edges.size(), 1u);
  EXPECT_EQ(edges[0].user, "ann");
  EXPECT_FALSE(edges[0].added);
  EXPECT_TRUE(table.Members("chat").empty());
}

}  // namespace
}  // namespace channel