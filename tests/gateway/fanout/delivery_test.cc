#include "gateway/fanout/delivery.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace channel {
namespace {

// A burst's batch holds thousands of deliveries: the common case stays at
// one cache line (a string, a shared payload, a pointer, two flags).
static_assert(sizeof(Delivery) <= 64, "Delivery grew: its batch would too");

TEST(DeliveryTest, APlainDeliveryAllocatesNothingRareAndReadsEmpty) {
  Delivery d;
  d.channel = "group:g";
  d.payload = std::make_shared<const std::string>("hi");
  EXPECT_EQ(d.rare, nullptr);
  EXPECT_TRUE(d.exclude().empty());
  EXPECT_TRUE(d.sender().empty());
  EXPECT_EQ(d.offset(), 0u);
  EXPECT_TRUE(d.epoch().empty());
  EXPECT_TRUE(d.skip_user().empty());
  EXPECT_EQ(d.bytes(), sizeof(Delivery) + 2);
}

TEST(DeliveryTest, CopiesAreDeepAndMovesTakeTheRareFields) {
  Delivery d;
  d.channel = "group:g";
  d.payload = std::make_shared<const std::string>("hi");
  d.mutable_rare().exclude = {7};
  d.mutable_rare().sender = "alice";
  d.mutable_rare().offset = 12;
  d.mutable_rare().epoch = "e1";

  Delivery copy = d;
  d.mutable_rare().exclude.clear();
  d.mutable_rare().sender = "bob";
  EXPECT_EQ(copy.exclude(), std::vector<uint64_t>{7});
  EXPECT_EQ(copy.sender(), "alice");
  EXPECT_EQ(copy.offset(), 12u);
  EXPECT_EQ(copy.epoch(), "e1");
  EXPECT_EQ(copy.payload, d.payload);  // the payload is shared, not copied
  EXPECT_EQ(copy.bytes(), sizeof(Delivery) + 2 + sizeof(Delivery::Rare));

  Delivery assigned;
  assigned = copy;
  EXPECT_EQ(assigned.sender(), "alice");
  Delivery moved = std::move(copy);
  EXPECT_EQ(moved.sender(), "alice");
  EXPECT_EQ(moved.channel, "group:g");
}

}  // namespace
}  // namespace channel
