// LogLimiter with an injected clock: a burst per second per site, the rest
// counted and reported with the next line written.
#include "common/logging/log_limiter.h"

#include "gtest/gtest.h"

namespace channel {
namespace {

TEST(LogLimiterTest, AtMostABurstPerSecondThenSaysHowManyWereLeftOut) {
  LogLimiter site;
  const uint64_t total_before = LogLimiter::SuppressedTotal();
  uint64_t suppressed = 99;
  int written = 0;
  for (int i = 0; i < 1000; ++i) {
    if (site.Allow(5000 + i % 1000, &suppressed)) {
      EXPECT_EQ(suppressed, 0u);
      ++written;
    }
  }
  EXPECT_EQ(written, LogLimiter::kLinesPerSecond);
  EXPECT_EQ(LogLimiter::SuppressedTotal() - total_before,
            1000u - LogLimiter::kLinesPerSecond);
  // The next second: written again, and told what was left out.
  ASSERT_TRUE(site.Allow(6000, &suppressed));
  EXPECT_EQ(suppressed, 1000u - LogLimiter::kLinesPerSecond);
  ASSERT_TRUE(site.Allow(6001, &suppressed));
  EXPECT_EQ(suppressed, 0u);
}

TEST(LogLimiterTest, SitesAreIndependent) {
  LogLimiter a, b;
  uint64_t suppressed = 0;
  for (int i = 0; i < 100; ++i) a.Allow(1000, &suppressed);
  EXPECT_TRUE(b.Allow(1000, &suppressed));
  EXPECT_FALSE(a.Allow(1000, &suppressed));
}

}  // namespace
}  // namespace channel
