#include <string>

#include "common/presence/member_json.h"
#include "common/presence/presence_rules.h"
#include "gtest/gtest.h"

namespace channel {
namespace {

struct RuleCase {
  const char* spec;
  bool ok;
  const char* pattern;
  uint32_t max_members, info_bytes;
};

class PresenceRuleParseTest : public ::testing::TestWithParam<RuleCase> {};

TEST_P(PresenceRuleParseTest, ParsesOrSaysWhy) {
  absl::StatusOr<PresenceRule> rule = PresenceRules::ParseRule(GetParam().spec);
  ASSERT_EQ(rule.ok(), GetParam().ok) << rule.status();
  if (!rule.ok()) {
    EXPECT_NE(rule.status().message().find("--presence"), std::string::npos);
    return;
  }
  EXPECT_EQ(rule->pattern, GetParam().pattern);
  EXPECT_EQ(rule->max_members, GetParam().max_members);
  EXPECT_EQ(rule->info_bytes, GetParam().info_bytes);
}

INSTANTIATE_TEST_SUITE_P(
    Specs, PresenceRuleParseTest,
    ::testing::Values(
        RuleCase{"chat-*:max_members=5,info_bytes=64", true, "chat-*", 5, 64},
        RuleCase{"chat-*", true, "chat-*", 100, 1024},
        RuleCase{"team:red:max_members=3", true, "team:red", 3, 1024},
        RuleCase{"a:b", true, "a:b", 100, 1024},  // no option: all pattern
        RuleCase{"chat-*:max_members=0", false, "", 0, 0},
        RuleCase{"chat-*:max_members=10001", false, "", 0, 0},
        RuleCase{"chat-*:info_bytes=99999", false, "", 0, 0},
        RuleCase{"chat-*:colour=red", false, "", 0, 0},
        RuleCase{":max_members=3", false, "", 0, 0}));

TEST(PresenceRulesTest, FirstMatchWinsAndOnlyGroupChannelsMatch) {
  absl::StatusOr<PresenceRules> rules =
      PresenceRules::Parse({"small-*:max_members=2; *:max_members=50"});
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ(rules->ForGroup("small-1")->max_members, 2u);
  EXPECT_EQ(rules->ForGroup("big")->max_members, 50u);
  EXPECT_EQ(rules->ForChannel("group:small-1")->max_members, 2u);
  EXPECT_EQ(rules->ForChannel("user:small-1"), nullptr);
  // Through the Welcome and back.
  v1::Welcome welcome;
  rules->ToProto(welcome.mutable_presence());
  PresenceRules back = PresenceRules::FromProto(welcome.presence());
  ASSERT_EQ(back.rules().size(), 2u);
  EXPECT_EQ(back.ForGroup("small-9")->max_members, 2u);
}

struct InfoCase {
  const char* name;
  std::string text;
  size_t max;
  bool ok;
  const char* canonical;
};

class MemberInfoTest : public ::testing::TestWithParam<InfoCase> {};

TEST_P(MemberInfoTest, CanonicalObjectsWithinBounds) {
  absl::StatusOr<std::string> info =
      NormalizeMemberInfo(GetParam().text, GetParam().max);
  ASSERT_EQ(info.ok(), GetParam().ok) << info.status();
  if (info.ok()) {
    EXPECT_EQ(*info, GetParam().canonical);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Infos, MemberInfoTest,
    ::testing::Values(
        InfoCase{"empty", "", 10, true, "{}"},
        InfoCase{"spaces", R"({ "a" : [1, 2] })", 100, true, R"({"a":[1,2]})"},
        InfoCase{"at_cap", R"({"a":"xxxx"})", 12, true, R"({"a":"xxxx"})"},
        InfoCase{"over_cap", R"({"a":"xxxxx"})", 12, false, ""},
        InfoCase{"array", "[1]", 100, false, ""},
        InfoCase{"string", R"("x")", 100, false, ""},
        InfoCase{"broken", R"({"a":)", 100, false, ""},
        InfoCase{"deep", std::string(20, '[') + std::string(20, ']'), 100,
                 false, ""},
        InfoCase{"huge", std::string(1 << 20, ' '), 100, false, ""}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(MemberJsonTest, EventsAndListsRoundTrip) {
  EXPECT_EQ(
      MemberEventJson(true, "g\"1", "u", R"({"n":1})"),
      R"({"type":"member_added","group":"g\"1","user":"u","info":{"n":1}})");
  EXPECT_EQ(MemberEventJson(false, "g", "u", ""),
            R"({"type":"member_removed","group":"g","user":"u","info":{}})");
  MemberList list = {{"b", R"({"x":[1]})"}, {"a", "{}"}};
  const std::string json = MemberListJson(list);
  EXPECT_EQ(json, R"([{"user":"a","info":{}},{"user":"b","info":{"x":[1]}}])");
  absl::StatusOr<MemberList> back = ParseMemberList(json, 10);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, list);
  EXPECT_FALSE(ParseMemberList(json, 1).ok());  // over the bound
  EXPECT_FALSE(ParseMemberList(R"([{"user":1}])", 10).ok());
  EXPECT_FALSE(ParseMemberList(R"({"user":"a"})", 10).ok());
  absl::StatusOr<std::string> info =
      MemberEventInfo(MemberEventJson(true, "g", "u", R"({"n":2})"));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(*info, R"({"n":2})");
}

}  // namespace
}  // namespace channel
