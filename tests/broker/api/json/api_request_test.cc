// The HTTP API's publish body parser and the presence table, table-driven.
#include "broker/api/json/api_request.h"

#include <string>
#include <vector>

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
  ApiLimits limits;
  limits.max_targets = 3;
  absl::StatusOr<ApiPublish> out = ParseApiPublish(c.body, limits);
  if (c.channels.empty()) {
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
    const ApiError error = ApiErrorOf(out.status());
    EXPECT_EQ(error.code, c.message);
    EXPECT_EQ(error.status, 400);
    EXPECT_EQ(error.message, out.status().message());
    return;
  }
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->channels, c.channels);
  EXPECT_EQ(out->message, c.message);
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
  absl::StatusOr<ApiPublish> out = ParseApiPublish(deep, ApiLimits{});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(ApiErrorOf(out.status()).code, "invalid_field");
  EXPECT_EQ(out.status().message(),
            "\"message\" is nested deeper than 32 levels");
}

}  // namespace
}  // namespace channel

namespace channel {
namespace {

TEST(ApiQueryParamTest, FirstOccurrencePercentDecoded) {
  EXPECT_EQ(ApiQueryParam("group_id=a%20b&x=1", "group_id"), "a b");
  EXPECT_EQ(ApiQueryParam("x=1&group_id=r+1&group_id=2", "group_id"), "r 1");
  EXPECT_EQ(ApiQueryParam("limit=", "limit"), "");
  EXPECT_EQ(ApiQueryParam("limit", "limit"), "");
  EXPECT_EQ(ApiQueryParam("bad=%zz%4", "bad"), "%zz%4");
  EXPECT_EQ(ApiQueryParam("prefix=x", "limit"), std::nullopt);
  EXPECT_EQ(ApiQueryParam("", "limit"), std::nullopt);
}

TEST(ApiErrorJsonTest, NotPublishedSaysSo) {
  ApiError e;
  e.status = 503;
  e.code = "unavailable";
  e.message = "m";
  e.not_published = true;
  EXPECT_EQ(ApiErrorJson(e),
            R"({"ok":false,"published":false,"error":{"code":"unavailable",)"
            R"("message":"m"}})");
}

}  // namespace
}  // namespace channel
