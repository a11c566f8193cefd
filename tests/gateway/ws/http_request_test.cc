#include "gateway/ws/http_request.h"

#include <string>

#include "gtest/gtest.h"

namespace channel {
namespace {

struct QueryCase {
  const char* resource;
  const char* name;
  const char* want;
};

TEST(QueryParamTest, Table) {
  const QueryCase cases[] = {
      {"/", "token", ""},
      {"/?token=abc", "token", "abc"},
      {"/?x=1&token=a.b.c&y=2", "token", "a.b.c"},
      {"/?token=first&token=second", "token", "first"},
      {"/?tokens=no&token=yes", "token", "yes"},
      {"/?token", "token", ""},
      {"/?token=", "token", ""},
      {"/?format=json", "format", "json"},
      {"/?&&format=json&", "format", "json"},
      {"/path?a=%41", "a", "%41"},  // not decoded
      {"/token=abc", "token", ""},  // not in a query
  };
  for (const QueryCase& c : cases) {
    EXPECT_EQ(QueryParam(c.resource, c.name), c.want)
        << c.resource << " " << c.name;
  }
}

TEST(PlainHttpResponseTest, DemoPageOnlyWhenEnabled) {
  for (const char* path : {"/", "/index.html", "/?x=1"}) {
    const PlainHttpReply on = PlainHttpResponse(path, true);
    EXPECT_EQ(on.status, 200) << path;
    EXPECT_EQ(on.content_type, "text/html; charset=utf-8");
    EXPECT_NE(on.body.find("<html"), absl::string_view::npos);
    EXPECT_EQ(PlainHttpResponse(path, false).status, 426) << path;
  }
  const PlainHttpReply js = PlainHttpResponse("/channel-client.js", true);
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_FALSE(js.body.empty());
  const PlainHttpReply other = PlainHttpResponse("/other", true);
  EXPECT_EQ(other.status, 426);
  EXPECT_TRUE(other.content_type.empty());
  EXPECT_NE(other.body.find("WebSocket"), absl::string_view::npos);
}

}  // namespace
}  // namespace channel
