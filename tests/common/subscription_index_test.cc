#include "common/subscription_index.h"

#include <algorithm>

#include "gtest/gtest.h"

namespace channel {
namespace {

TEST(SubscriptionIndexTest, FirstAndLastInterest) {
  SubscriptionIndex<int> index;
  auto c = index.Add(1, "a");
  EXPECT_TRUE(c.changed);
  EXPECT_TRUE(c.channel_edge);  // first subscriber
  c = index.Add(2, "a");
  EXPECT_TRUE(c.changed);
  EXPECT_FALSE(c.channel_edge);
  c = index.Remove(1, "a");
  EXPECT_TRUE(c.changed);
  EXPECT_FALSE(c.channel_edge);
  c = index.Remove(2, "a");
  EXPECT_TRUE(c.changed);
  EXPECT_TRUE(c.channel_edge);  // last subscriber
  EXPECT_EQ(index.channel_count(), 0u);
  EXPECT_EQ(index.Find("a"), nullptr);
}

TEST(SubscriptionIndexTest, SubscribingTwiceCountsOnce) {
  SubscriptionIndex<int> index;
  index.Add(1, "a");
  EXPECT_FALSE(index.Add(1, "a").changed);
  EXPECT_EQ(index.subscription_count(), 1u);
  EXPECT_EQ(index.Find("a")->size(), 1u);
}

TEST(SubscriptionIndexTest, RemovingWhatIsNotThereIsANoOp) {
  SubscriptionIndex<int> index;
  EXPECT_FALSE(index.Remove(1, "a").changed);
  index.Add(2, "a");
  EXPECT_FALSE(index.Remove(1, "a").changed);
  EXPECT_EQ(index.subscription_count(), 1u);
}

TEST(SubscriptionIndexTest, RemoveAllReportsEmptiedChannels) {
  SubscriptionIndex<int> index;
  index.Add(1, "a");
  index.Add(1, "b");
  index.Add(2, "b");
  auto emptied = index.RemoveAll(1);
  EXPECT_EQ(emptied, std::vector<std::string>{"a"});
  EXPECT_EQ(index.channel_count(), 1u);
  EXPECT_EQ(index.subscription_count(), 1u);
  EXPECT_EQ(index.CountFor(1), 0u);
  EXPECT_TRUE(index.RemoveAll(1).empty());
}

TEST(SubscriptionIndexTest, ManySubscribersManyChannels) {
  SubscriptionIndex<int> index;
  for (int s = 0; s < 100; ++s) {
    for (int c = 0; c < 10; ++c) index.Add(s, std::to_string(c));
  }
  EXPECT_EQ(index.channel_count(), 10u);
  EXPECT_EQ(index.subscription_count(), 1000u);
  for (int s = 0; s < 100; ++s) index.RemoveAll(s);
  EXPECT_EQ(index.channel_count(), 0u);
  EXPECT_EQ(index.subscription_count(), 0u);
}

}  // namespace
}  // namespace channel
