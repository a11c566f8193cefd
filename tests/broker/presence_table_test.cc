#include "broker/presence_table.h"

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

TEST(PresenceTableTest, SumsReportersAndCountsUsersOnce) {
  PresenceTable t(100);
  int a, b;
  ASSERT_TRUE(t.Apply(&a, Report(true, {{"g", 2, {"alice", "bob"}, {}}})).ok());
  ASSERT_TRUE(t.Apply(&b, Report(true, {{"g", 1, {"alice"}, {}}})).ok());
  EXPECT_EQ(t.Get("g").connections, 3u);
  EXPECT_EQ(t.Get("g").users, 2u);
  ASSERT_TRUE(t.Apply(&a, Report(false, {{"g", -1, {}, {"bob"}}})).ok());
  EXPECT_EQ(t.Get("g").connections, 2u);
  EXPECT_EQ(t.Get("g").users, 1u);
  t.RemoveReporter(&b);
  EXPECT_EQ(t.Get("g").connections, 1u);
  EXPECT_EQ(t.Get("g").users, 1u);
  t.RemoveReporter(&a);
  EXPECT_EQ(t.group_count(), 0u);
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

TEST(PresenceTableTest, NegativeIsRefusedAndChangesNothing) {
  PresenceTable t(100);
  int a;
  ASSERT_TRUE(t.Apply(&a, Report(false, {{"g", 1, {}, {}}})).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(
      t.Apply(&a, Report(false, {{"g", 1, {}, {}}, {"h", -1, {}, {}}}))));
  EXPECT_EQ(t.Get("g").connections, 1u);
  EXPECT_EQ(t.Get("h").connections, 0u);
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

}  // namespace
}  // namespace channel
