// ParseAppAction: every action with its fields, and every refusal with its
// reason (table-driven); the events' JSON.
#include "gateway/app/app_action.h"

#include <string>

#include "absl/strings/match.h"
#include "gateway/app/app_event.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace channel {
namespace {

struct Refusal {
  const char* name;
  const char* text;
  const char* reason;  // a part of the message
};

// A close reason of 124 bytes (the bound is 123).
const std::string kLongReason =
    R"({"action":"close","client":"n.1","reason":")" + std::string(124, 'x') +
    R"("})";
// A message nested 40 levels (the action's bound is 64, a message's 32).
const std::string kDeep = R"({"action":"send","client":"n.1","message":)" +
                          std::string(40, '[') + "1" + std::string(40, ']') +
                          "}";

class AppActionRefusalTest : public ::testing::TestWithParam<Refusal> {};

TEST_P(AppActionRefusalTest, IsRefusedWithItsReason) {
  absl::StatusOr<AppAction> a = ParseAppAction(GetParam().text, {});
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(a.status()));
  EXPECT_TRUE(absl::StrContains(a.status().message(), GetParam().reason))
      << a.status();
}

INSTANTIATE_TEST_SUITE_P(
    All, AppActionRefusalTest,
    ::testing::Values(
        Refusal{"not_json", "nope", "invalid JSON"},
        Refusal{"not_object", "[1]", "JSON object"},
        Refusal{"no_client", R"({"action":"send","message":"x"})",
                "\"client\" is required"},
        Refusal{"client_number", R"({"action":"send","client":1})",
                "must be a string"},
        Refusal{"no_action", R"({"client":"n.1"})", "\"action\" is required"},
        Refusal{"unknown", R"({"action":"explode","client":"n.1"})",
                "unknown \"action\""},
        Refusal{"send_no_message", R"({"action":"send","client":"n.1"})",
                "\"message\" is required"},
        Refusal{"reply_no_request", R"({"action":"reply","client":"n.1"})",
                "\"request\""},
        Refusal{"reply_zero",
                R"({"action":"reply","client":"n.1","request":0})",
                "\"request\""},
        Refusal{"join_no_group", R"({"action":"join","client":"n.1"})",
                "\"group_id\" is required"},
        Refusal{"bind_empty", R"({"action":"bind","client":"n.1","user":""})",
                "must not be empty"},
        Refusal{"close_protocol_code",
                R"({"action":"close","client":"n.1","code":1002})",
                "1000 or 3000-4999"},
        Refusal{"close_long_reason", kLongReason.c_str(), "longer than 123"},
        Refusal{"info_without_reply_to", R"({"action":"info","client":"n.1"})",
                "needs \"reply_to\""},
        Refusal{"ref_object",
                R"({"action":"info","client":"n.1","reply_to":"r","ref":{}})",
                "\"ref\""},
        Refusal{"deep", kDeep.c_str(), "nested deeper"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(AppActionTest, EveryActionWithItsFields) {
  AppAction a = *ParseAppAction(
      R"({"action":"send","client":"g-0.5","message":{"k":[1,"x"]}})", {});
  EXPECT_EQ(a.type, AppAction::Type::kSend);
  EXPECT_EQ(a.client, "g-0.5");
  EXPECT_EQ(a.message, R"({"k":[1,"x"]})");
  a = *ParseAppAction(R"({"action":"send","client":"g-0.5","message":"t\"x"})",
                      {});
  EXPECT_EQ(a.message, "t\"x");  // a string is its text
  a = *ParseAppAction(
      R"({"action":"reply","client":"c.1","request":9,"data":[true]})", {});
  EXPECT_EQ(a.request, 9u);
  EXPECT_EQ(a.data_json, "[true]");
  EXPECT_TRUE(a.error_code.empty());
  a = *ParseAppAction(
      R"({"action":"reply","client":"c.1","request":9,"error":"no","message":"m"})",
      {});
  EXPECT_EQ(a.error_code, "no");
  EXPECT_EQ(a.message, "m");
  a = *ParseAppAction(R"({"action":"join","client":"c.1","group_id":123})", {});
  EXPECT_EQ(a.type, AppAction::Type::kJoin);
  EXPECT_EQ(a.group, "123");
  a = *ParseAppAction(R"({"action":"leave","client":"c.1","group_id":"g"})",
                      {});
  EXPECT_EQ(a.type, AppAction::Type::kLeave);
  a = *ParseAppAction(
      R"({"action":"close","client":"c.1","code":4001,"reason":"r","reply_to":"app:reply:x","ref":"abc"})",
      {});
  EXPECT_EQ(a.code, 4001);
  EXPECT_EQ(a.reason, "r");
  EXPECT_EQ(a.reply_to, "app:reply:x");
  EXPECT_EQ(a.ref_json, R"("abc")");
  a = *ParseAppAction(R"({"action":"close","client":"c.1"})", {});
  EXPECT_EQ(a.code, 1000);
  a = *ParseAppAction(R"({"action":"bind","client":"c.1","user":"u"})", {});
  EXPECT_EQ(a.user, "u");
}

TEST(AppEventTest, EventsAreJsonWithTheirFields) {
  const EventBase base{"n-0.3", "alice", 1700000000123};
  ConnectInfo info;
  info.address = "127.0.0.1:5000";
  info.path = "/ws";
  info.headers = {{"User-Agent", "a\"b"}};
  rapidjson::Document d;
  d.Parse(ConnectEvent(base, info).c_str());
  ASSERT_TRUE(d.IsObject());
  EXPECT_STREQ(d["type"].GetString(), "connect");
  EXPECT_STREQ(d["user"].GetString(), "alice");
  EXPECT_EQ(d["time_ms"].GetInt64(), 1700000000123);
  EXPECT_STREQ(d["headers"]["User-Agent"].GetString(), "a\"b");
  EXPECT_FALSE(d.HasMember("cookies"));
  d.Parse(MessageEvent(base, 4, R"({"cmd":"x","v":[1]})").c_str());
  EXPECT_EQ(d["request"].GetUint64(), 4u);
  EXPECT_EQ(d["command"]["v"][0].GetInt(), 1);
  d.Parse(CloseEvent(base, 1001, "gone", {"a", "b"}).c_str());
  EXPECT_EQ(d["groups"].Size(), 2u);
  EXPECT_EQ(d["code"].GetInt(), 1001);
  std::string value;
  EXPECT_TRUE(FindCookie("a=1; sid = x2 ;b=3", "sid", &value));
  EXPECT_EQ(value, "x2");
  EXPECT_FALSE(FindCookie("a=1; sidx=2", "sid", &value));
}

}  // namespace
}  // namespace channel
