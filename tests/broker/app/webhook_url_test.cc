#include "broker/app/webhook_url.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace channel {
namespace {

TEST(WebhookUrlTest, GoodUrlsAreNormalized) {
  const struct {
    const char* url;
    const char* normalized;
  } cases[] = {
      {"http://127.0.0.1:8080/hook", "http://127.0.0.1:8080/hook"},
      {"https://app.example.com/hooks/channel?x=1",
       "https://app.example.com:443/hooks/channel?x=1"},
      {"http://backend", "http://backend:80/"},
      {"http://backend?token=a%20b", "http://backend:80/?token=a%20b"},
      {"http://[::1]:9000/h", "http://[::1]:9000/h"},
      {"https://[2001:db8::1]/", "https://[2001:db8::1]:443/"},
      {"http://my_host-1.local:65535/", "http://my_host-1.local:65535/"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<WebhookUrl> url = ParseWebhookUrl(c.url);
    ASSERT_TRUE(url.ok()) << c.url << ": " << url.status();
    EXPECT_EQ(url->Normalized(), c.normalized) << c.url;
    // Normalizing twice changes nothing.
    absl::StatusOr<WebhookUrl> again = ParseWebhookUrl(url->Normalized());
    ASSERT_TRUE(again.ok()) << c.url;
    EXPECT_EQ(again->Normalized(), c.normalized);
  }
}

TEST(WebhookUrlTest, BadUrlsSayWhy) {
  const struct {
    std::string url;
    const char* why;
  } cases[] = {
      {"ftp://host/", "must start with http:// or https://"},
      {"127.0.0.1:8080/hook", "must start with"},
      {"http://", "no host"},
      {"http:///path", "no host"},
      {"http://a b/", "a host is"},
      {"http://host:99999999999/x", "port must be 1-65535"},
      {"http://host:0/", "port must be 1-65535"},
      {"http://host:65536/", "port must be 1-65535"},
      {"http://host:8a/", "port must be 1-65535"},
      {"http://host:/", "empty port"},
      {"http://[::1/", "closing ]"},
      {"http://[]/", "closing ]"},
      {"http://[::1]x/", "only :PORT"},
      {"http://[::1]:/", "empty port"},
      {"http://[zz]/", "not an IPv6"},
      {"http://user:pw@host/", "credentials"},
      {"http://host/a#frag", "no #fragment"},
      {"http://host/a b", "visible ASCII"},
      {"http://host/\x01", "visible ASCII"},
      {"http://host/" + std::string(3000, 'a'), "longer than 2048"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<WebhookUrl> url = ParseWebhookUrl(c.url);
    ASSERT_FALSE(url.ok()) << c.url.substr(0, 60);
    EXPECT_TRUE(absl::IsInvalidArgument(url.status()));
    EXPECT_TRUE(absl::StrContains(url.status().message(), c.why))
        << c.url.substr(0, 60) << ": " << url.status();
    EXPECT_TRUE(absl::StartsWith(url.status().message(), "--webhook_url: "));
  }
}

}  // namespace
}  // namespace channel
