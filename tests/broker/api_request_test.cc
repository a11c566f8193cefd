// The HTTP API's publish body parser and the presence table, table-driven.
#include "broker/api_request.h"

#include <string>
#include <vector>

#include "broker/presence_table.h"
#include "gtest/gtest.h"

namespace channel {
namespace {

struct PublishCase {
  const char* name;
  std::string body;
  std::vector<std::string> channels;  // empty: refused
  std::string message;                // or the error code when refused
};

class ApiPublishTest : public ::testing::TestWithParam<PublishCase> {};

TEST_P(ApiPublishTest, Parses) {
  const PublishCase& c = GetParam();
  ApiPublish out;
  ApiError error;
  ApiLimits limits;
  limits.max_targets = 3;
  const bool ok = ParseApiPublish(c.body, limits, &out, &error);
  if (c.channels.empty()) {
    EXPECT_FALSE(ok);
    EXPECT_EQ(error.code, c.message);
    EXPECT_EQ(error.status, 400);
    return;
  }
  ASSERT_TRUE(ok) << error.code << ": " << error.message;
  EXPECT_EQ(out.channels, c.channels);
  EXPECT_EQ(out.message, c.message);
}

INSTANTIATE_TEST_SUITE_P(
    Bodies, ApiPublishTest,
    ::testing::Values(
        PublishCase{"group",
                    R"({"group_id":"123","message":"Esta é"})",
                    {"group:123"},
                    "Esta é"},
        PublishCase{"int_group",
                    R"({"group_id":123,"message":"x"})",
                    {"group:123"},
                    "x"},
        PublishCase{"groups",
                    R"({"group_ids":["a",7],"message":"x"})",
                    {"group:a", "group:7"},
                    "x"},
        PublishCase{"user",
                    R"({"user_id":"alice","message":"x"})",
                    {"user:alice"},
                    "x"},
        PublishCase{"users",
                    R"({"user_ids":["a","b"],"message":"x"})",
                    {"user:a", "user:b"},
                    "x"},
        PublishCase{"all", R"({"all":true,"message":"x"})", {"all"}, "x"},
        PublishCase{"json_message",
                    R"({"group_id":"g","message":{"k":[1,2.5,null,"é"]}})",
                    {"group:g"},
                    R"({"k":[1,2.5,null,"é"]})"},
        PublishCase{"number_message",
                    R"({"group_id":"g","message":42})",
                    {"group:g"},
                    "42"},
        PublishCase{"invalid_json", "{", {}, "invalid_json"},
        PublishCase{"not_object", "[1]", {}, "invalid_json"},
        PublishCase{"no_target", R"({"message":"x"})", {}, "missing_target"},
        PublishCase{"all_false",
                    R"({"all":false,"message":"x"})",
                    {},
                    "missing_target"},
        PublishCase{"two_kinds",
                    R"({"group_id":"a","all":true,"message":"x"})",
                    {},
                    "invalid_field"},
        PublishCase{"no_message", R"({"group_id":"a"})", {}, "missing_field"},
        PublishCase{"empty_id",
                    R"({"group_id":"","message":"x"})",
                    {},
                    "invalid_field"},
        PublishCase{"bad_id_type",
                    R"({"user_id":true,"message":"x"})",
                    {},
                    "invalid_field"},
        PublishCase{"empty_list",
                    R"({"group_ids":[],"message":"x"})",
                    {},
                    "invalid_field"},
        PublishCase{"too_many",
                    R"({"group_ids":["a","b","c","d"],"message":"x"})",
                    {},
                    "too_many_targets"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ApiPublishTest, DeepMessageRefused) {
  std::string deep = R"({"group_id":"g","message":)";
  for (int i = 0; i < 40; ++i) deep += "[";
  for (int i = 0; i < 40; ++i) deep += "]";
  deep += "}";
  ApiPublish out;
  ApiError error;
  EXPECT_FALSE(ParseApiPublish(deep, ApiLimits{}, &out, &error));
  EXPECT_EQ(error.code, "invalid_field");
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

}  // namespace
}  // namespace channel
