#include "common/lifecycle/drain_schedule.h"

#include <chrono>
#include <cstddef>
#include <vector>

#include "gtest/gtest.h"

namespace channel {
namespace {

using std::chrono::milliseconds;
using Clock = DrainSchedule::Clock;

struct DrainCase {
  const char* name;
  size_t total;
  int drain_ms;
  int tick_ms;
  std::vector<int> at_ms;   // times of the ticks, from the start
  std::vector<size_t> due;  // what each tick closes
};

class DrainScheduleTest : public ::testing::TestWithParam<DrainCase> {};

TEST_P(DrainScheduleTest, ClosesEvenlyAndNeverBursts) {
  const DrainCase& c = GetParam();
  const Clock::time_point start{};
  DrainSchedule schedule(c.total, start, milliseconds(c.drain_ms),
                         milliseconds(c.tick_ms));
  ASSERT_EQ(c.at_ms.size(), c.due.size());
  size_t sum = 0;
  for (size_t i = 0; i < c.at_ms.size(); ++i) {
    const size_t due = schedule.Due(start + milliseconds(c.at_ms[i]));
    EXPECT_EQ(due, c.due[i]) << "tick at " << c.at_ms[i] << " ms";
    EXPECT_LE(due, schedule.max_per_tick());
    sum += due;
  }
  EXPECT_EQ(schedule.closed(), sum);
  EXPECT_LE(sum, c.total);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DrainScheduleTest,
    ::testing::Values(
        // 10,000 over 5 s with 10 ms ticks: 20 per tick, 40 at most.
        DrainCase{"even", 10000, 5000, 10, {0, 10, 20, 30}, {0, 20, 20, 20}},
        // A tick 500 ms late closes two ticks' share, not 1,000.
        DrainCase{"late_tick", 10000, 5000, 10, {10, 510, 520}, {20, 40, 40}},
        // Past the drain the rest is due, still two ticks' share at a time.
        DrainCase{
            "after_the_end", 100, 1000, 10, {5000, 5001, 5002}, {2, 2, 2}},
        // Fewer connections than ticks: one at a time, spread, the first
        // at once (a lone connection does not wait for the whole drain).
        DrainCase{"few",
                  3,
                  3000,
                  10,
                  {10, 500, 1000, 1500, 2000, 2500},
                  {1, 0, 0, 1, 0, 1}},
        DrainCase{"one", 1, 5000, 10, {10, 20}, {1, 0}},
        // No drain: everything at once.
        DrainCase{"no_drain", 500, 0, 10, {0, 10}, {500, 0}},
        DrainCase{"nothing", 0, 5000, 10, {0, 6000}, {0, 0}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(DrainScheduleTest, EveryConnectionByTheEndWhenTicksAreOnTime) {
  const Clock::time_point start{};
  DrainSchedule schedule(10007, start, milliseconds(5000), milliseconds(10));
  size_t sum = 0;
  for (int t = 0; t <= 5000; t += 10)
    sum += schedule.Due(start + milliseconds(t));
  EXPECT_EQ(sum, 10007u);
  EXPECT_TRUE(schedule.done());
}

}  // namespace
}  // namespace channel
