// Queue groups through the Router (one member per group per event, keys
// stick to a member, members leaving hand their keys on) and QueueGroups'
// binding bound.
#include "broker/routing/queue_groups.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "broker/cluster/cluster_link.h"
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
  std::vector<QueueGroups::GroupName> local_left;
  EXPECT_EQ(groups.RemoveAll(&a, &local_left), std::vector<std::string>{});
  EXPECT_TRUE(local_left.empty());
  EXPECT_EQ(groups.RemoveAll(&b, &local_left),
            std::vector<std::string>{"events"});
  EXPECT_EQ(local_left, (std::vector<QueueGroups::GroupName>{{"events", "g"}}));
  EXPECT_EQ(groups.bindings(), 0u);
}

// Queue groups across brokers, as the Router sees them: another broker is
// one member (IsBroker) that is handed the events chosen for it.
class OtherBroker : public Subscriber {
 public:
  bool Deliver(OutgoingEvent&) override { return false; }
  bool DeliverQueued(OutgoingEvent& event, const std::string& group) override {
    if (!open) return false;
    sent.push_back(absl::StrCat(group, "/", event.event().meta().key()));
    return true;
  }
  bool IsBroker() const override { return true; }
  bool open = true;
  std::vector<std::string> sent;  // "group/key"
};

// A cluster that shares queue groups (or not), recording what it is told.
class QueueCluster : public ClusterLink {
 public:
  bool up() const override { return true; }
  void Interest(const std::string&, bool) override {}
  absl::Status Forward(const v1::Envelope&) override {
    return absl::OkStatus();
  }
  bool WaitForInterest(std::function<void()>) override { return false; }
  bool SharesQueues() const override { return shares; }
  void QueueInterest(const std::string& channel, const std::string& group,
                     bool first) override {
    told.push_back(absl::StrCat(first ? "+" : "-", channel, "/", group));
  }
  bool shares = true;
  std::vector<std::string> told;
};

class QueueGroupsClusterTest : public QueueGroupsTest {
 protected:
  void SetUp() override { router_.set_cluster(&cluster_); }
  void TearDown() override { router_.set_cluster(nullptr); }
  // An event of "events" with `key`, as another broker sends it.
  bool FromOtherBroker(const std::string& key, const Subscriber* origin) {
    v1::Envelope envelope;
    envelope.mutable_event()->set_channel("events");
    envelope.mutable_event()->set_payload("remote");
    envelope.mutable_event()->mutable_meta()->set_key(key);
    return router_.DeliverQueued(envelope, "app", origin);
  }
  QueueCluster cluster_;
};

TEST_F(QueueGroupsClusterTest, OnlyTheFirstAndLastLocalMemberAreTold) {
  Member a, b;
  OtherBroker other;
  ASSERT_TRUE(router_.Subscribe(&a, Queue("events", "app")).ok());
  ASSERT_TRUE(router_.Subscribe(&b, Queue("events", "app")).ok());
  router_.RemoteQueue(&other, "events", "app", true);
  EXPECT_EQ(cluster_.told, std::vector<std::string>{"+events/app"});
  v1::Unsubscribe leave;
  leave.add_channels("events");
  leave.set_queue_group("app");
  ASSERT_TRUE(router_.Unsubscribe(&a, leave).ok());
  EXPECT_EQ(cluster_.told.size(), 1u);
  router_.RemoveAll(&b);  // the last local one; another broker's remain
  EXPECT_EQ(cluster_.told,
            (std::vector<std::string>{"+events/app", "-events/app"}));
  EXPECT_TRUE(router_.HasSubscribers("events"));
  router_.RemoveAll(&other);
  EXPECT_FALSE(router_.HasSubscribers("events"));
}

TEST_F(QueueGroupsClusterTest, OtherBrokersTakeTheirTurnAndKeepTheirKeys) {
  Member a;
  OtherBroker other;
  ASSERT_TRUE(router_.Subscribe(&a, Queue("events", "app")).ok());
  router_.RemoteQueue(&other, "events", "app", true);
  for (int round = 0; round < 3; ++round) {
    for (const char* key : {"k1", "k2", "k3", "k4"}) {
      EXPECT_EQ(Send(key, "x"), 1u);
    }
  }
  ASSERT_EQ(a.keys.size(), 6u);
  ASSERT_EQ(other.sent.size(), 6u);
  for (const std::string& sent : other.sent) {
    for (const std::string& key : a.keys) EXPECT_NE(sent, "app/" + key);
  }
  // The other broker gone: its keys come here.
  router_.RemoveAll(&other);
  for (const char* key : {"k1", "k2", "k3", "k4"})
    EXPECT_EQ(Send(key, "y"), 1u);
  EXPECT_EQ(a.keys.size(), 10u);
  // One that cannot be reached (NATS down) hands the event on.
  OtherBroker down;
  down.open = false;
  router_.RemoteQueue(&down, "events", "app", true);
  for (const char* key : {"n1", "n2"}) EXPECT_EQ(Send(key, "z"), 1u);
  EXPECT_EQ(a.keys.size(), 12u);
  router_.RemoveAll(&down);
}

TEST_F(QueueGroupsClusterTest, EventsFromAnotherBrokerGoToLocalMembersOnly) {
  Member a, b;
  OtherBroker origin, third;
  ASSERT_TRUE(router_.Subscribe(&a, Queue("events", "app")).ok());
  ASSERT_TRUE(router_.Subscribe(&b, Queue("events", "app")).ok());
  router_.RemoteQueue(&third, "events", "app", true);
  for (int round = 0; round < 3; ++round) {
    for (const char* key : {"k1", "k2", "k3", "k4"}) {
      EXPECT_TRUE(FromOtherBroker(key, &origin));
    }
  }
  EXPECT_TRUE(third.sent.empty());  // never sent on
  EXPECT_EQ(a.keys.size(), 6u);
  EXPECT_EQ(b.keys.size(), 6u);
  for (const std::string& key : a.keys) {
    for (const std::string& other : b.keys) EXPECT_NE(key, other);
  }
  EXPECT_EQ(router_.queue_groups().bindings(), 4u);
  router_.RemoveAll(&origin);  // the sending broker left: its keys end
  EXPECT_EQ(router_.queue_groups().bindings(), 0u);
  // No local member any more: dropped and counted, never sent on.
  router_.RemoveAll(&a);
  router_.RemoveAll(&b);
  EXPECT_FALSE(FromOtherBroker("k1", &origin));
  EXPECT_EQ(stats_.queue_events_dropped, 1u);
  EXPECT_TRUE(third.sent.empty());
  router_.RemoveAll(&third);
}

TEST_F(QueueGroupsClusterTest, RefusedWhereTheClusterCannotShareThem) {
  Member a;
  cluster_.shares = false;
  EXPECT_TRUE(
      absl::IsInvalidArgument(router_.Subscribe(&a, Queue("events", "app"))));
  EXPECT_TRUE(cluster_.told.empty());
}

}  // namespace
}  // namespace channel
