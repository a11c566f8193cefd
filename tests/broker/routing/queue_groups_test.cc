// Queue groups through the Router (one member per group per event, keys
// stick to a member, members leaving hand their keys on) and QueueGroups'
// binding bound.
#include "broker/routing/queue_groups.h"

#include <map>
#include <string>
#include <vector>

#include "broker/routing/router.h"
#include "common/framing/envelope_codec.h"
#include "common/framing/frame_decoder.h"
#include "gtest/gtest.h"

namespace channel {
namespace {

// Records the key of every event it is sent; refuses when `open` is false.
class Member : public Subscriber {
 public:
  bool Deliver(OutgoingEvent& event) override {
    if (!open) return false;
    const SharedFrame& frame = event.ProtobufFrame();
    FrameDecoder decoder(1 << 20);
    decoder.Append(frame->data(), frame->size());
    absl::string_view body;
    EXPECT_EQ(decoder.Next(&body), FrameDecoder::Result::kFrame);
    v1::Envelope envelope;
    EXPECT_EQ(ParseBody(body, &envelope), BodyKind::kEnvelope);
    keys.push_back(envelope.event().meta().key());
    payloads.push_back(envelope.event().payload());
    return true;
  }
  bool open = true;
  std::vector<std::string> keys;
  std::vector<std::string> payloads;
};

v1::Subscribe Queue(const std::string& channel, const std::string& group) {
  v1::Subscribe request;
  request.add_channels(channel);
  request.set_queue_group(group);
  return request;
}

class QueueGroupsTest : public ::testing::Test {
 protected:
  // Publishes `payload` to "events" with `key`; returns the receivers.
  uint64_t Send(const std::string& key, const std::string& payload,
                bool key_end = false, const Subscriber* publisher = nullptr) {
    v1::Publish request;
    request.add_channels("events");
    request.set_payload(payload);
    request.mutable_meta()->set_key(key);
    request.mutable_meta()->set_key_end(key_end);
    absl::StatusOr<uint64_t> r = router_.Publish(&request, publisher);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : 0;
  }

  BrokerOptions options_;
  BrokerStats stats_;
  Router router_{options_, &stats_};
};

TEST_F(QueueGroupsTest, EachEventReachesOneMemberAndEveryPlainSubscriber) {
  Member a, b, watcher;
  ASSERT_TRUE(router_.Subscribe(&a, Queue("events", "app")).ok());
  ASSERT_TRUE(router_.Subscribe(&b, Queue("events", "app")).ok());
  v1::Subscribe plain;
  plain.add_channels("events");
  ASSERT_TRUE(router_.Subscribe(&watcher, plain).ok());
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(Send("", std::to_string(i)), 2u);  // one member + the watcher
  }
  EXPECT_EQ(a.payloads.size() + b.payloads.size(), 10u);
  EXPECT_EQ(a.payloads.size(), 5u);  // keyless: in turn
  EXPECT_EQ(watcher.payloads.size(), 10u);
}

TEST_F(QueueGroupsTest, KeysStickToOneMemberAndEndWithTheirLastEvent) {
  Member a, b;
  ASSERT_TRUE(router_.Subscribe(&a, Queue("events", "app")).ok());
  ASSERT_TRUE(router_.Subscribe(&b, Queue("events", "app")).ok());
  for (int round = 0; round < 5; ++round) {
    for (const char* key : {"c1", "c2", "c3", "c4"}) Send(key, "x");
  }
  std::map<std::string, int> owner;  // key -> which member saw it
  for (const auto& k : a.keys) owner[k] |= 1;
  for (const auto& k : b.keys) owner[k] |= 2;
  ASSERT_EQ(owner.size(), 4u);
  for (const auto& [key, who] : owner) EXPECT_NE(who, 3) << key;
  EXPECT_EQ(a.keys.size(), 10u);  // two keys each
  EXPECT_EQ(router_.queue_groups().bindings(), 4u);
  for (const char* key : {"c1", "c2", "c3", "c4"}) Send(key, "end", true);
  EXPECT_EQ(router_.queue_groups().bindings(), 0u);
  // A member joining later does not take keys already bound.
  Member c;
  Send("c9", "first");
  ASSERT_TRUE(router_.Subscribe(&c, Queue("events", "app")).ok());
  const size_t c_before = c.keys.size();
  for (int i = 0; i < 5; ++i) Send("c9", "more");
  EXPECT_EQ(c.keys.size(), c_before);
}

TEST_F(QueueGroupsTest, AMemberGoneHandsItsKeysToTheOthers) {
  Member a, b;
  ASSERT_TRUE(router_.Subscribe(&a, Queue("events", "app")).ok());
  ASSERT_TRUE(router_.Subscribe(&b, Queue("events", "app")).ok());
  Send("k1", "x");
  Send("k2", "x");
  Member* first = a.keys.empty() ? &b : &a;
  Member* other = first == &a ? &b : &a;
  router_.RemoveAll(first);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Send("k1", "y"), 1u);
    EXPECT_EQ(Send("k2", "y"), 1u);
  }
  EXPECT_EQ(other->keys.size(), 7u);
  // One that cannot take an event hands it to the next member.
  Member c;
  ASSERT_TRUE(router_.Subscribe(&c, Queue("events", "app")).ok());
  other->open = false;
  EXPECT_EQ(Send("k1", "z"), 1u);
  EXPECT_EQ(c.payloads.back(), "z");
  c.open = false;
  EXPECT_EQ(Send("k1", "lost"), 0u);
  EXPECT_EQ(stats_.queue_events_dropped, 1u);
}

TEST_F(QueueGroupsTest, GroupsAreIndependentAndPublishersTakeTheirKeysAlong) {
  Member a1, a2, b1, publisher;
  ASSERT_TRUE(router_.Subscribe(&a1, Queue("events", "A")).ok());
  ASSERT_TRUE(router_.Subscribe(&a2, Queue("events", "A")).ok());
  ASSERT_TRUE(router_.Subscribe(&b1, Queue("events", "B")).ok());
  EXPECT_EQ(Send("k", "x", false, &publisher), 2u);  // one of A, one of B
  EXPECT_EQ(b1.keys.size(), 1u);
  EXPECT_EQ(router_.queue_groups().bindings(), 2u);
  router_.RemoveAll(&publisher);  // a gateway gone: no close events come
  EXPECT_EQ(router_.queue_groups().bindings(), 0u);
  // Leaving one group's membership keeps the other's.
  v1::Unsubscribe leave;
  leave.add_channels("events");
  leave.set_queue_group("B");
  ASSERT_TRUE(router_.Unsubscribe(&b1, leave).ok());
  EXPECT_EQ(Send("k", "y"), 1u);
  EXPECT_EQ(b1.keys.size(), 1u);
  EXPECT_TRUE(router_.HasSubscribers("events"));
  router_.RemoveAll(&a1);
  router_.RemoveAll(&a2);
  EXPECT_FALSE(router_.HasSubscribers("events"));
  EXPECT_EQ(Send("k", "z"), 0u);
}

TEST_F(QueueGroupsTest, MembershipsCountAgainstTheChannelLimit) {
  options_.max_channels_per_connection = 2;
  Member a;
  v1::Subscribe plain;
  plain.add_channels("x");
  ASSERT_TRUE(router_.Subscribe(&a, plain).ok());
  ASSERT_TRUE(router_.Subscribe(&a, Queue("events", "g")).ok());
  EXPECT_TRUE(
      absl::IsResourceExhausted(router_.Subscribe(&a, Queue("events", "h"))));
  v1::Subscribe since = Queue("events", "g");
  since.add_since()->set_channel("events");
  EXPECT_TRUE(absl::IsInvalidArgument(router_.Subscribe(&a, since)));
  router_.RemoveAll(&a);
}

TEST(QueueGroupsBoundTest, PastTheBindingBoundKeysAreHashedNotBound) {
  QueueGroups groups(2);
  Member a, b;
  groups.Join(&a, "events", "g");
  groups.Join(&b, "events", "g");
  std::vector<std::pair<std::string, Subscriber*>> out;
  for (const char* key : {"k1", "k2", "k3", "k4"}) {
    groups.Pick("events", key, false, nullptr, &out);
  }
  EXPECT_EQ(groups.bindings(), 2u);
  EXPECT_EQ(groups.unbound_picks(), 2u);
  // An unbound key still meets the same member while the group stands.
  std::vector<std::pair<std::string, Subscriber*>> again;
  groups.Pick("events", "k3", false, nullptr, &again);
  groups.Pick("events", "k3", false, nullptr, &again);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].second, out[2].second);
  EXPECT_EQ(again[1].second, out[2].second);
  EXPECT_EQ(groups.RemoveAll(&a), std::vector<std::string>{});
  EXPECT_EQ(groups.RemoveAll(&b), std::vector<std::string>{"events"});
  EXPECT_EQ(groups.bindings(), 0u);
}

}  // namespace
}  // namespace channel
