#include "common/token_bucket.h"

#include "gtest/gtest.h"

namespace channel {
namespace {

using std::chrono::milliseconds;

TEST(TokenBucketTest, BurstThenRate) {
  const auto t0 = TokenBucket::Clock::time_point{};
  TokenBucket bucket(/*rate=*/10, /*burst=*/5, t0);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(bucket.TryTake(t0)) << i;
  EXPECT_FALSE(bucket.TryTake(t0));
  EXPECT_FALSE(bucket.TryTake(t0 + milliseconds(50)));  // half a token
  EXPECT_TRUE(bucket.TryTake(t0 + milliseconds(100)));  // one token
  EXPECT_FALSE(bucket.TryTake(t0 + milliseconds(100)));
}

TEST(TokenBucketTest, RefillIsCappedAtBurst) {
  const auto t0 = TokenBucket::Clock::time_point{};
  TokenBucket bucket(100, 3, t0);
  const auto later = t0 + std::chrono::hours(1);
  int taken = 0;
  while (bucket.TryTake(later)) ++taken;
  EXPECT_EQ(taken, 3);
}

TEST(TokenBucketTest, ZeroRateDisablesTheLimit) {
  const auto t0 = TokenBucket::Clock::time_point{};
  TokenBucket bucket(0, 0, t0);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(bucket.TryTake(t0));
}

}  // namespace
}  // namespace channel
