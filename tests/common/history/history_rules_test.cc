#include "common/history/history_rules.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace channel {
namespace {

struct GlobCase {
  const char* pattern;
  const char* text;
  bool match;
};

class GlobMatchTest : public ::testing::TestWithParam<GlobCase> {};

TEST_P(GlobMatchTest, Matches) {
  EXPECT_EQ(GlobMatch(GetParam().pattern, GetParam().text), GetParam().match)
      << GetParam().pattern << " vs " << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, GlobMatchTest,
    ::testing::Values(
        GlobCase{"room-*", "room-1", true}, GlobCase{"room-*", "room-", true},
        GlobCase{"room-*", "roo", false}, GlobCase{"room-*", "lobby", false},
        GlobCase{"*", "", true}, GlobCase{"*", "anything", true},
        GlobCase{"a*b*c", "aXXbYYc", true}, GlobCase{"a*b*c", "aXXbYY", false},
        GlobCase{"*-ticker", "eur-ticker", true},
        GlobCase{"exact", "exact", true}, GlobCase{"exact", "exactly", false},
        GlobCase{"a**", "a", true}));

TEST(GlobMatchTest, StaysQuadraticOnAdversarialInput) {
  // Exponential backtracking would not finish; this one is O(p x t).
  const std::string pattern = std::string(64, '*') + std::string(64, 'a') + "b";
  const std::string text(100000, 'a');
  EXPECT_FALSE(GlobMatch(pattern, text));
}

TEST(HistoryRulesTest, ParsesRulesFirstMatchWins) {
  absl::StatusOr<HistoryRules> rules = HistoryRules::Parse(
      {"room-*:size=100,ttl=300s", "ticker-*:size=1;r*:size=5,ttl=2m"});
  ASSERT_TRUE(rules.ok()) << rules.status();
  ASSERT_EQ(rules->rules().size(), 3u);
  const HistoryRule* room = rules->ForGroup("room-7");
  ASSERT_NE(room, nullptr);
  EXPECT_EQ(room->size, 100u);
  EXPECT_EQ(room->ttl, std::chrono::seconds(300));
  EXPECT_EQ(rules->ForGroup("ticker-eur")->size, 1u);
  EXPECT_EQ(rules->ForGroup("ticker-eur")->ttl.count(), 0);
  EXPECT_EQ(rules->ForGroup("rx")->ttl, std::chrono::minutes(2));
  EXPECT_EQ(rules->ForGroup("lobby"), nullptr);
  // Only group channels have rules.
  EXPECT_NE(rules->ForChannel("group:room-1"), nullptr);
  EXPECT_EQ(rules->ForChannel("user:room-1"), nullptr);
  EXPECT_EQ(rules->ForChannel("room-1"), nullptr);
}

TEST(HistoryRulesTest, EmptyFlagIsNoRules) {
  absl::StatusOr<HistoryRules> rules = HistoryRules::Parse({""});
  ASSERT_TRUE(rules.ok());
  EXPECT_TRUE(rules->empty());
}

class BadRuleTest : public ::testing::TestWithParam<const char*> {};

TEST_P(BadRuleTest, IsRefusedWithAReason) {
  absl::StatusOr<HistoryRules> rules = HistoryRules::Parse({GetParam()});
  ASSERT_FALSE(rules.ok()) << GetParam();
  EXPECT_TRUE(absl::IsInvalidArgument(rules.status()));
  EXPECT_NE(rules.status().message().find("--history"), std::string::npos)
      << rules.status();
}

INSTANTIATE_TEST_SUITE_P(Cases, BadRuleTest,
                         ::testing::Values("room-*", ":size=1", "room-*:ttl=5s",
                                           "room-*:size=-1", "room-*:size=x",
                                           "room-*:size=2000000",
                                           "room-*:size=1,ttl=5",
                                           "room-*:size=1,ttl=99999999h",
                                           "room-*:size=1,colour=red"));

TEST(HistoryRulesTest, TooManyRulesAreRefused) {
  std::vector<std::string> specs(HistoryRules::kMaxRules + 1, "a*:size=1");
  EXPECT_FALSE(HistoryRules::Parse(specs).ok());
}

TEST(HistoryRulesTest, RoundTripsThroughTheWelcome) {
  absl::StatusOr<HistoryRules> rules =
      HistoryRules::Parse({"room-*:size=100,ttl=300s", "t*:size=0"});
  ASSERT_TRUE(rules.ok());
  v1::Welcome welcome;
  rules->ToProto(welcome.mutable_history());
  HistoryRules back = HistoryRules::FromProto(welcome.history());
  ASSERT_EQ(back.rules().size(), 2u);
  EXPECT_EQ(back.rules()[0].pattern, "room-*");
  EXPECT_EQ(back.rules()[0].size, 100u);
  EXPECT_EQ(back.rules()[0].ttl, std::chrono::seconds(300));
  EXPECT_EQ(back.rules()[1].size, 0u);
}

TEST(HistoryRulesTest, APeersRulesAreBoundedWhenRead) {
  v1::Welcome welcome;
  for (size_t i = 0; i < HistoryRules::kMaxRules + 10; ++i) {
    v1::HistoryRule* r = welcome.add_history();
    r->set_pattern(i == 0 ? std::string(1000, '*') : "x*");
    r->set_size(UINT32_MAX);
  }
  HistoryRules back = HistoryRules::FromProto(welcome.history());
  // The over-long pattern is dropped, the list cut at the bound.
  EXPECT_EQ(back.rules().size(), HistoryRules::kMaxRules);
  EXPECT_EQ(back.rules()[0].size, HistoryRules::kMaxSize);
}

}  // namespace
}  // namespace channel
