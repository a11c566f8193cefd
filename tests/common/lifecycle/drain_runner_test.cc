#include "common/lifecycle/drain_runner.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <vector>

#include "asio/io_context.hpp"
#include "gtest/gtest.h"

namespace channel {
namespace {

using std::chrono::milliseconds;

std::vector<uint64_t> Ids(size_t n) {
  std::vector<uint64_t> ids(n);
  std::iota(ids.begin(), ids.end(), 1);
  return ids;
}

// Every id once, then `done`; the first tick (run by Start itself) visits
// no more than the schedule's share of two ticks, so the rest is spread
// over later ticks whatever the machine's speed.
TEST(DrainRunnerTest, VisitsEveryIdOnceSpreadOverTicksThenDone) {
  asio::io_context io;
  DrainRunner runner(io);
  std::vector<uint64_t> visited;
  bool done = false;
  runner.Start(
      Ids(100), milliseconds(200), milliseconds(10),
      [&](uint64_t id) { visited.push_back(id); }, [&] { done = true; });
  EXPECT_LE(visited.size(), runner.max_per_tick());
  EXPECT_LT(visited.size(), 100u);
  EXPECT_TRUE(runner.running());
  io.run();
  EXPECT_TRUE(done);
  EXPECT_FALSE(runner.running());
  std::vector<uint64_t> sorted = visited;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, Ids(100));
}

TEST(DrainRunnerTest, NoDrainVisitsEverythingAtOnce) {
  asio::io_context io;
  DrainRunner runner(io);
  size_t visits = 0;
  bool done = false;
  runner.Start(
      Ids(7), milliseconds(0), milliseconds(10), [&](uint64_t) { ++visits; },
      [&] { done = true; });
  EXPECT_EQ(visits, 7u);
  EXPECT_TRUE(done);
  EXPECT_EQ(io.run(), 0u);  // no timer left behind
}

// Cancel, also from inside a visit: no callback afterwards.
TEST(DrainRunnerTest, CancelStopsEveryCallback) {
  asio::io_context io;
  DrainRunner runner(io);
  size_t visits = 0;
  bool done = false;
  runner.Start(
      Ids(50), milliseconds(500), milliseconds(10),
      [&](uint64_t) {
        if (++visits == 3) runner.Cancel();
      },
      [&] { done = true; });
  io.run();
  EXPECT_EQ(visits, 3u);
  EXPECT_FALSE(done);
  EXPECT_FALSE(runner.running());
}

}  // namespace
}  // namespace channel
