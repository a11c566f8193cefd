#include "gateway/app/held_events.h"

#include <string>

#include "gtest/gtest.h"

namespace channel {
namespace {

TEST(HeldEventsTest, KeepsOrderWithinItsBoundInBytes) {
  const size_t one = sizeof(HeldEvents::Event) + 1 + 10;  // client + json
  HeldEvents held(3 * one);
  EXPECT_TRUE(held.empty());
  for (char c : {'a', 'b', 'c'}) {
    EXPECT_TRUE(held.Hold({std::string(1, c), std::string(10, c), c == 'c'}));
  }
  // Full: refused whole, nothing held of it.
  EXPECT_FALSE(held.Hold({"d", std::string(10, 'd'), false}));
  EXPECT_EQ(held.size(), 3u);
  EXPECT_EQ(held.front().client, "a");
  held.pop_front();
  // Room again for one.
  EXPECT_TRUE(held.Hold({"d", std::string(10, 'd'), false}));
  std::string order;
  while (!held.empty()) {
    order += held.front().client;
    EXPECT_EQ(held.front().key_end, held.front().client == "c");
    held.pop_front();
  }
  EXPECT_EQ(order, "bcd");
  // A bound of 0 holds nothing.
  HeldEvents none(0);
  EXPECT_FALSE(none.Hold({"a", "{}", false}));
  EXPECT_TRUE(none.empty());
}

}  // namespace
}  // namespace channel
