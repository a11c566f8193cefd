#include "gateway/fanout/recoveries.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace channel {
namespace {

Delivery D(const std::string& channel, uint64_t offset,
           std::vector<uint64_t> exclude = {}) {
  Delivery d;
  d.channel = channel;
  d.payload = std::make_shared<const std::string>("m" + std::to_string(offset));
  d.mutable_rare().offset = offset;
  d.mutable_rare().epoch = "e";
  d.mutable_rare().exclude = std::move(exclude);
  return d;
}

std::vector<uint64_t> Offsets(const Recoveries::Held& held) {
  std::vector<uint64_t> out;
  for (const Delivery& d : held.deliveries) out.push_back(d.offset());
  return out;
}

TEST(RecoveriesTest, HoldsOnlyTheRecoveringMemberOfThatGroup) {
  Recoveries recoveries(1 << 20);
  ConnectionData a, b;
  a.id = 1;
  b.id = 2;
  recoveries.Begin(&a, "group:g");
  EXPECT_TRUE(recoveries.Holds(&a, "group:g"));
  EXPECT_FALSE(recoveries.Holds(&a, "group:h"));
  EXPECT_FALSE(recoveries.Holds(&b, "group:g"));
  recoveries.Capture({D("group:g", 5), D("group:h", 1), D("group:g", 6, {1}),
                      D("group:g", 7)});
  Recoveries::Held held;
  ASSERT_TRUE(recoveries.End(&a, "group:g", &held));
  // In order; the one excluding a (its own exclude_self send) not held.
  EXPECT_EQ(Offsets(held), (std::vector<uint64_t>{5, 7}));
  EXPECT_FALSE(held.overflowed);
  EXPECT_FALSE(recoveries.Holds(&a, "group:g"));
  EXPECT_EQ(a.recovering, 0);
  EXPECT_TRUE(recoveries.empty());
  EXPECT_FALSE(recoveries.End(&a, "group:g", &held));
}

TEST(RecoveriesTest, OverflowDropsAndSaysSo) {
  Recoveries recoveries(/*max_held_bytes=*/1000);
  ConnectionData a;
  a.id = 1;
  recoveries.Begin(&a, "group:g");
  for (uint64_t i = 1; i <= 100; ++i) recoveries.Capture({D("group:g", i)});
  Recoveries::Held held;
  ASSERT_TRUE(recoveries.End(&a, "group:g", &held));
  EXPECT_TRUE(held.overflowed);
  EXPECT_TRUE(held.deliveries.empty());
}

TEST(RecoveriesTest, TheBoundIsPerConnectionOverAllItsHolds) {
  Recoveries recoveries(/*max_held_bytes=*/4000);
  ConnectionData a, b;
  a.id = 1;
  b.id = 2;
  for (int g = 0; g < 50; ++g) {
    recoveries.Begin(&a, "group:" + std::to_string(g));
  }
  recoveries.Begin(&b, "group:0");
  for (uint64_t i = 1; i <= 20; ++i) {
    std::vector<Delivery> batch;
    for (int g = 0; g < 50; ++g)
      batch.push_back(D("group:" + std::to_string(g), i));
    recoveries.Capture(batch);
  }
  EXPECT_LE(a.held_bytes, 4000u);
  int overflowed = 0;
  for (int g = 0; g < 50; ++g) {
    Recoveries::Held held;
    ASSERT_TRUE(recoveries.End(&a, "group:" + std::to_string(g), &held));
    overflowed += held.overflowed;
  }
  EXPECT_GT(overflowed, 40);
  EXPECT_EQ(a.held_bytes, 0u);
  // Another connection has a budget of its own.
  Recoveries::Held held;
  ASSERT_TRUE(recoveries.End(&b, "group:0", &held));
  EXPECT_FALSE(held.overflowed);
  EXPECT_EQ(held.deliveries.size(), 20u);
}

TEST(RecoveriesTest, ForgetEndsEveryRecoveryOfAConnection) {
  Recoveries recoveries(1 << 20);
  ConnectionData a, b;
  a.id = 1;
  b.id = 2;
  recoveries.Begin(&a, "group:g");
  recoveries.Begin(&a, "group:h");
  recoveries.Begin(&b, "group:g");
  EXPECT_EQ(a.recovering, 2);
  recoveries.Forget(&a);
  EXPECT_EQ(a.recovering, 0);
  EXPECT_FALSE(recoveries.Holds(&a, "group:h"));
  EXPECT_TRUE(recoveries.Holds(&b, "group:g"));
  // A second Begin of the same pair starts over, counted once.
  recoveries.Capture({D("group:g", 1)});
  recoveries.Begin(&b, "group:g");
  EXPECT_EQ(b.recovering, 1);
  Recoveries::Held held;
  ASSERT_TRUE(recoveries.End(&b, "group:g", &held));
  EXPECT_TRUE(held.deliveries.empty());
}

}  // namespace
}  // namespace channel
