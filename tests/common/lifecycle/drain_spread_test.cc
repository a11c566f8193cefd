#include "common/lifecycle/drain_spread.h"

#include "gtest/gtest.h"

namespace channel {
namespace {

using std::chrono::milliseconds;

TEST(DrainSpreadTest, EvenClosesOverFiveSeconds) {
  DrainSpread spread;
  const auto t0 = DrainSpread::Clock::now();
  spread.Start(t0);
  for (int i = 0; i < 1000; ++i) spread.Record(t0 + milliseconds(i * 5));
  EXPECT_EQ(spread.closes(), 1000u);
  EXPECT_EQ(spread.span_ms(), 4900);
  EXPECT_EQ(spread.busiest_second(), 200u);
}

TEST(DrainSpreadTest, AllAtOnceIsOneSecond) {
  DrainSpread spread;
  const auto t0 = DrainSpread::Clock::now();
  spread.Start(t0);
  for (int i = 0; i < 500; ++i) spread.Record(t0 + milliseconds(3000));
  EXPECT_EQ(spread.span_ms(), 0);
  EXPECT_EQ(spread.busiest_second(), 500u);
}

TEST(DrainSpreadTest, NothingClosed) {
  DrainSpread spread;
  spread.Start(DrainSpread::Clock::now());
  EXPECT_EQ(spread.closes(), 0u);
  EXPECT_EQ(spread.span_ms(), 0);
  EXPECT_EQ(spread.busiest_second(), 0u);
}

}  // namespace
}  // namespace channel
