#include "broker/presence/presence_service.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace channel {
namespace {

v1::Presence Join(const std::string& group, const std::string& user,
                  const std::string& info = "") {
  v1::Presence p;
  v1::PresenceDelta* d = p.add_deltas();
  d->set_group(group);
  d->set_connections(1);
  d->add_users_joined(user);
  d->add_infos(info);
  return p;
}

PresenceRules Rules(const std::string& spec) {
  absl::StatusOr<PresenceRules> rules = PresenceRules::Parse({spec});
  EXPECT_TRUE(rules.ok()) << rules.status();
  return *rules;
}

TEST(PresenceServiceTest, RefusesPastMaxMembersWholeAndTellsTheRest) {
  PresenceService service(100, Rules("room:max_members=2,info_bytes=16"));
  std::vector<std::string> told;
  service.set_on_member([&](const PresenceTable::MemberEdge& e) {
    told.push_back((e.added ? "+" : "-") + e.user + e.info);
  });
  int gw;
  ASSERT_TRUE(service.Apply(&gw, 1, Join("room", "a", R"({ "x" : 1 })")).ok());
  ASSERT_TRUE(service.Apply(&gw, 1, Join("room", "b")).ok());
  // Canonical info; an empty one is {}.
  EXPECT_EQ(told, (std::vector<std::string>{R"(+a{"x":1})", "+b{}"}));
  // A third user: refused, nothing applied (not even its connection).
  absl::Status full = service.Apply(&gw, 1, Join("room", "c"));
  EXPECT_TRUE(absl::IsResourceExhausted(full)) << full;
  EXPECT_EQ(full.message().rfind("presence_full", 0), 0u) << full;
  EXPECT_EQ(service.table().Get("room").connections, 2u);
  // Another tab of a member is no new member.
  ASSERT_TRUE(service.Apply(&gw, 1, Join("room", "a")).ok());
  // Info over the rule's bound, or not an object: refused.
  EXPECT_FALSE(
      service.Apply(&gw, 1, Join("room", "a", R"({"long":"xxxxxxxxxxx"})"))
          .ok());
  EXPECT_FALSE(service.Apply(&gw, 1, Join("room", "a", "[1]")).ok());
  // Groups without a rule: no member edges, no bound.
  for (const char* u : {"p", "q", "r"}) {
    ASSERT_TRUE(service.Apply(&gw, 1, Join("lobby", u)).ok());
  }
  EXPECT_EQ(told.size(), 2u);
  // The reporter gone: each of its members leaves, once.
  service.Gone(&gw, 1);
  ASSERT_EQ(told.size(), 4u);
  std::sort(told.begin() + 2, told.end());
  // A departure carries the info the member had.
  EXPECT_EQ(told[2], R"(-a{"x":1})");
  EXPECT_EQ(told[3], "-b{}");
}

}  // namespace
}  // namespace channel
