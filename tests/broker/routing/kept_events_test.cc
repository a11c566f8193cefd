// KeptEvents (bounds, age, order, take) and the Router keeping what nobody
// took for its channel's first consumer.
#include "broker/routing/kept_events.h"

#include <string>
#include <vector>

#include "broker/routing/router.h"
#include "gtest/gtest.h"

namespace channel {
namespace {

using std::chrono::seconds;

v1::Event Ev(const std::string& channel, const std::string& payload) {
  v1::Event e;
  e.set_channel(channel);
  e.set_payload(payload);
  return e;
}
std::vector<std::string> Payloads(const std::vector<v1::Event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.payload());
  return out;
}

TEST(KeptEventsTest, TakenInOrderPerChannelOnce) {
  KeptEvents kept(1 << 20, seconds(60));
  const auto now = KeptEvents::Clock::now();
  for (const char* p : {"a1", "a2", "a3"}) kept.Keep(Ev("a", p), now);
  kept.Keep(Ev("b", "b1"), now);
  EXPECT_TRUE(kept.Has("a"));
  EXPECT_FALSE(kept.Has("c"));
  EXPECT_EQ(Payloads(kept.Take("a", now)),
            (std::vector<std::string>{"a1", "a2", "a3"}));
  EXPECT_TRUE(kept.Take("a", now).empty());
  EXPECT_EQ(kept.events(), 1u);
  EXPECT_EQ(Payloads(kept.Take("b", now)), std::vector<std::string>{"b1"});
  EXPECT_EQ(kept.events(), 0u);
  EXPECT_EQ(kept.bytes(), 0u);
  EXPECT_EQ(kept.taken_total(), 4u);
}

TEST(KeptEventsTest, TheOldestGoFirstPastTheByteBoundOverAllChannels) {
  const std::string payload(1000, 'x');
  KeptEvents kept(10 * 1024, seconds(60));
  const auto now = KeptEvents::Clock::now();
  for (int i = 0; i < 30; ++i) {
    kept.Keep(Ev(i % 2 ? "odd" : "even", payload + std::to_string(i)), now);
    EXPECT_LE(kept.bytes(), 10u * 1024);
  }
  EXPECT_GT(kept.dropped_full(), 0u);
  EXPECT_EQ(kept.events() + kept.dropped_full(), 30u);
  // What is left is the newest, each channel in order.
  const auto even = kept.Take("even", now);
  ASSERT_FALSE(even.empty());
  EXPECT_EQ(even.back().payload(), payload + "28");
  // One event larger than the whole bound is never kept.
  kept.Keep(Ev("big", std::string(20 * 1024, 'y')), now);
  EXPECT_FALSE(kept.Has("big"));
}

TEST(KeptEventsTest, OldEventsAreNeverDelivered) {
  KeptEvents kept(1 << 20, seconds(10));
  const auto t0 = KeptEvents::Clock::now();
  kept.Keep(Ev("a", "old"), t0);
  kept.Keep(Ev("a", "new"), t0 + seconds(8));
  EXPECT_EQ(Payloads(kept.Take("a", t0 + seconds(12))),
            std::vector<std::string>{"new"});
  EXPECT_EQ(kept.dropped_expired(), 1u);
  // Expired ones also leave when something new is kept.
  kept.Keep(Ev("b", "old"), t0);
  kept.Keep(Ev("c", "now"), t0 + seconds(20));
  EXPECT_FALSE(kept.Has("b"));
  EXPECT_EQ(kept.events(), 1u);
}

TEST(KeptEventsTest, ManyTakesKeepTheBookkeepingBounded) {
  KeptEvents kept(1 << 20, seconds(60));
  const auto now = KeptEvents::Clock::now();
  for (int i = 0; i < 100000; ++i) {
    kept.Keep(Ev("a", "x"), now);
    kept.Take("a", now);
  }
  kept.Keep(Ev("a", "last"), now);
  EXPECT_EQ(kept.events(), 1u);
  EXPECT_EQ(Payloads(kept.Take("a", now)), std::vector<std::string>{"last"});
}

// Records what it is given.
class Consumer : public Subscriber {
 public:
  bool Deliver(OutgoingEvent& event) override {
    got.push_back(event.event().payload());
    return true;
  }
  std::vector<std::string> got;
};

class RouterKeepTest : public ::testing::Test {
 protected:
  uint64_t Send(const std::string& payload, bool keep) {
    v1::Publish request;
    request.add_channels("app:events");
    request.set_payload(payload);
    request.mutable_meta()->set_keep(keep);
    request.mutable_meta()->set_key("c1");
    auto r = router_.Publish(&request);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : 0;
  }
  // The Router reads the bound when it is made.
  BrokerOptions options_ = [] {
    BrokerOptions options;
    options.events_keep_bytes = 1 << 20;
    return options;
  }();
  BrokerStats stats_;
  Router router_{options_, &stats_};
};

TEST_F(RouterKeepTest, WhatNobodyTookGoesToTheFirstConsumerFirst) {
  EXPECT_EQ(Send("connect", true), 0u);
  EXPECT_EQ(Send("command", false), 0u);  // not marked: dropped
  EXPECT_EQ(Send("close", true), 0u);
  Consumer backend;
  v1::Subscribe join;
  join.add_channels("app:events");
  join.set_queue_group("backend");
  ASSERT_TRUE(router_.Subscribe(&backend, join).ok());
  EXPECT_EQ(backend.got, (std::vector<std::string>{"connect", "close"}));
  EXPECT_EQ(Send("next", true), 1u);  // taken now: not kept
  EXPECT_EQ(router_.kept_events().events(), 0u);
  Consumer late;
  v1::Subscribe plain;
  plain.add_channels("app:events");
  ASSERT_TRUE(router_.Subscribe(&late, plain).ok());
  EXPECT_TRUE(late.got.empty());
  router_.RemoveAll(&backend);
  router_.RemoveAll(&late);
}

TEST(RouterKeepOffTest, NothingIsKeptByDefault) {
  BrokerOptions options;
  BrokerStats stats;
  Router router(options, &stats);
  v1::Publish request;
  request.add_channels("app:events");
  request.mutable_meta()->set_keep(true);
  ASSERT_TRUE(router.Publish(&request).ok());
  EXPECT_EQ(router.kept_events().events(), 0u);
}

}  // namespace
}  // namespace channel
