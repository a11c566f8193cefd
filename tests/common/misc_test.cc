// Small pure helpers of common/: constant-time compare, backoff, Prometheus
// text, environment names of flags.
#include "common/backoff.h"
#include "common/constant_time.h"
#include "common/ops/flags_env.h"
#include "common/ops/prometheus_text.h"
#include "common/version.h"
#include "gtest/gtest.h"

namespace channel {
namespace {

TEST(ConstantTimeEqualsTest, Table) {
  struct Case {
    const char* a;
    const char* b;
    bool equal;
  } cases[] = {{"", "", true},
               {"secret", "secret", true},
               {"secreT", "secret", false},
               {"secret", "secret2", false},
               {"secret2", "secret", false},
               {"", "secret", false},
               {"secret", "", false}};
  for (const auto& c : cases) {
    EXPECT_EQ(ConstantTimeEquals(c.a, c.b), c.equal) << c.a << " vs " << c.b;
  }
}

TEST(CommaListTest, ItemsTrimmedEmptiesDropped) {
  EXPECT_EQ(CommaList(" a, b,,c ,"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(CommaList("").empty());
  EXPECT_TRUE(CommaList(" , ").empty());
}

TEST(BackoffTest, GrowsWithinBoundsAndResets) {
  Backoff backoff(std::chrono::milliseconds(100),
                  std::chrono::milliseconds(1600), 42);
  int64_t ceiling = 100;
  for (int i = 0; i < 10; ++i) {
    const auto d = backoff.Next().count();
    EXPECT_GE(d, 50);
    EXPECT_LE(d, ceiling);
    ceiling = std::min<int64_t>(ceiling * 2, 1600);
  }
  backoff.Reset();
  EXPECT_LE(backoff.Next().count(), 100);
}

TEST(BackoffTest, JitterSpreadsClients) {
  Backoff a(std::chrono::milliseconds(100), std::chrono::milliseconds(10000),
            1);
  Backoff b(std::chrono::milliseconds(100), std::chrono::milliseconds(10000),
            2);
  int same = 0;
  for (int i = 0; i < 8; ++i) same += a.Next() == b.Next();
  EXPECT_LT(same, 8);
}

TEST(PrometheusTextTest, FamiliesAndEscaping) {
  PrometheusText m;
  m.Counter("x_total", "Things.", 3, {{"kind", "a\"b"}});
  m.Counter("x_total", "Things.", 4, {{"kind", "c"}});
  m.Gauge("y", "Level.", 1.5);
  EXPECT_EQ(m.text(),
            "# HELP x_total Things.\n# TYPE x_total counter\n"
            "x_total{kind=\"a\\\"b\"} 3\nx_total{kind=\"c\"} 4\n"
            "# HELP y Level.\n# TYPE y gauge\ny 1.5\n");
}

TEST(FlagsEnvTest, EnvironmentName) {
  EXPECT_EQ(EnvironmentNameForFlag("auth_token"), "CHANNEL_AUTH_TOKEN");
  EXPECT_EQ(EnvironmentNameForFlag("port"), "CHANNEL_PORT");
}

TEST(FlagsEnvTest, VersionLineNamesTheProgramAndVersion) {
  const std::string version = kVersion;
  EXPECT_EQ(VersionLine("/usr/local/bin/channel-broker"),
            "channel-broker " + version + "\n");
  EXPECT_EQ(VersionLine("ws-gateway"), "ws-gateway " + version + "\n");
  EXPECT_EQ(VersionLine(""), " " + version + "\n");
}

}  // namespace
}  // namespace channel
