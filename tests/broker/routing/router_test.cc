// Router against fake subscribers: validation, de-duplication, fan-out and
// cleanup, table-driven where the cases are alike.
#include "broker/routing/router.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/framing/envelope_codec.h"
#include "common/framing/frame_decoder.h"
#include "gtest/gtest.h"

namespace channel {
namespace {

// Records the channel of every event it is sent; refuses past `capacity`.
class FakeSubscriber : public Subscriber {
 public:
  explicit FakeSubscriber(size_t capacity = 1000) : capacity_(capacity) {}
  bool Deliver(OutgoingEvent& event) override {
    const SharedFrame& frame = event.ProtobufFrame();
    if (channels.size() >= capacity_) return false;
    FrameDecoder decoder(1 << 20);
    decoder.Append(frame->data(), frame->size());
    absl::string_view body;
    EXPECT_EQ(decoder.Next(&body), FrameDecoder::Result::kFrame);
    v1::Envelope envelope;
    EXPECT_EQ(ParseBody(body, &envelope), BodyKind::kEnvelope);
    channels.push_back(envelope.event().channel());
    payloads.push_back(envelope.event().payload());
    return true;
  }
  std::vector<std::string> channels;
  std::vector<std::string> payloads;

 private:
  size_t capacity_;
};

BrokerOptions SmallLimits() {
  BrokerOptions options;
  options.max_channel_name_bytes = 8;
  options.max_channels_per_connection = 4;
  options.max_channels_per_request = 3;
  return options;
}

v1::Subscribe SubscribeTo(std::vector<std::string> names) {
  v1::Subscribe request;
  for (auto& n : names) request.add_channels(n);
  return request;
}

v1::Publish PublishTo(std::vector<std::string> names,
                      const std::string& payload) {
  v1::Publish request;
  for (auto& n : names) request.add_channels(n);
  request.set_payload(payload);
  return request;
}

enum class Outcome { kOk, kInvalid, kExhausted };

Outcome Of(const absl::Status& s) {
  if (s.ok()) return Outcome::kOk;
  if (absl::IsInvalidArgument(s)) return Outcome::kInvalid;
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  return Outcome::kExhausted;
}

struct ValidationCase {
  const char* name;
  std::vector<std::string> channels;
  Outcome expected;
};

class RouterValidationTest : public ::testing::TestWithParam<ValidationCase> {};

// The same validation answers for all three request kinds.
TEST_P(RouterValidationTest, SameAnswerForEveryRequestKind) {
  const ValidationCase& c = GetParam();
  BrokerOptions options = SmallLimits();
  BrokerStats stats;
  Router router(options, &stats);
  FakeSubscriber sub;
  EXPECT_EQ(Of(router.Subscribe(&sub, SubscribeTo(c.channels))), c.expected);
  v1::Unsubscribe unsubscribe;
  for (auto& n : c.channels) unsubscribe.add_channels(n);
  EXPECT_EQ(Of(router.Unsubscribe(&sub, unsubscribe)), c.expected);
  v1::Publish publish = PublishTo(c.channels, "x");
  EXPECT_EQ(Of(router.Publish(&publish).status()), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RouterValidationTest,
    ::testing::Values(
        ValidationCase{"none", {}, Outcome::kInvalid},
        ValidationCase{"empty_name", {"a", ""}, Outcome::kInvalid},
        ValidationCase{"name_at_limit", {"12345678"}, Outcome::kOk},
        ValidationCase{"name_over_limit", {"123456789"}, Outcome::kExhausted},
        ValidationCase{"names_at_limit", {"a", "b", "c"}, Outcome::kOk},
        ValidationCase{
            "names_over_limit", {"a", "b", "c", "d"}, Outcome::kExhausted},
        // The per-request limit counts names as sent, repeats included.
        ValidationCase{
            "repeats_over_limit", {"a", "a", "a", "a"}, Outcome::kExhausted}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(RouterTest, RepeatedNamesCountOnceForConnectionLimitAndDelivery) {
  BrokerOptions options = SmallLimits();
  BrokerStats stats;
  Router router(options, &stats);
  FakeSubscriber sub;
  ASSERT_TRUE(router.Subscribe(&sub, SubscribeTo({"a", "a", "b"})).ok());
  ASSERT_TRUE(router.Subscribe(&sub, SubscribeTo({"c", "d", "d"})).ok());
  EXPECT_EQ(router.subscription_count(), 4u);
  // A fifth channel is over the connection limit; held ones are not.
  EXPECT_EQ(Of(router.Subscribe(&sub, SubscribeTo({"e"}))),
            Outcome::kExhausted);
  EXPECT_TRUE(router.Subscribe(&sub, SubscribeTo({"a", "b", "c"})).ok());
  v1::Publish publish = PublishTo({"a", "b", "a"}, "p");
  auto receivers = router.Publish(&publish);
  ASSERT_TRUE(receivers.ok());
  EXPECT_EQ(*receivers, 2u);
  EXPECT_EQ(sub.channels, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(sub.payloads, (std::vector<std::string>{"p", "p"}));
}

TEST(RouterTest, FanOutReachesExactlySubscribers) {
  BrokerOptions options;
  BrokerStats stats;
  Router router(options, &stats);
  FakeSubscriber a, b, c;
  ASSERT_TRUE(router.Subscribe(&a, SubscribeTo({"room"})).ok());
  ASSERT_TRUE(router.Subscribe(&b, SubscribeTo({"room", "other"})).ok());
  ASSERT_TRUE(router.Subscribe(&c, SubscribeTo({"other"})).ok());
  v1::Publish publish = PublishTo({"room"}, "hello");
  EXPECT_EQ(*router.Publish(&publish), 2u);
  EXPECT_EQ(a.payloads, std::vector<std::string>{"hello"});
  EXPECT_EQ(b.payloads, std::vector<std::string>{"hello"});
  EXPECT_TRUE(c.payloads.empty());
  EXPECT_EQ(stats.publishes, 1u);
  EXPECT_EQ(stats.events_delivered, 2u);
}

TEST(RouterTest, RefusingSubscriberIsNotCountedAndOthersStillReceive) {
  BrokerOptions options;
  BrokerStats stats;
  Router router(options, &stats);
  FakeSubscriber full(/*capacity=*/0), ok;
  ASSERT_TRUE(router.Subscribe(&full, SubscribeTo({"room"})).ok());
  ASSERT_TRUE(router.Subscribe(&ok, SubscribeTo({"room"})).ok());
  v1::Publish publish = PublishTo({"room"}, "x");
  EXPECT_EQ(*router.Publish(&publish), 1u);
  EXPECT_EQ(ok.payloads.size(), 1u);
}

TEST(RouterTest, UnsubscribeAndRemoveAllLeaveNoTrace) {
  BrokerOptions options;
  BrokerStats stats;
  Router router(options, &stats);
  FakeSubscriber a, b;
  ASSERT_TRUE(router.Subscribe(&a, SubscribeTo({"x", "y", "z"})).ok());
  ASSERT_TRUE(router.Subscribe(&b, SubscribeTo({"z"})).ok());
  v1::Unsubscribe unsubscribe;
  unsubscribe.add_channels("x");
  unsubscribe.add_channels("never");
  ASSERT_TRUE(router.Unsubscribe(&a, unsubscribe).ok());
  EXPECT_EQ(router.channel_count(), 2u);
  router.RemoveAll(&a);
  EXPECT_EQ(router.channel_count(), 1u);
  EXPECT_EQ(router.subscription_count(), 1u);
  router.RemoveAll(&b);
  EXPECT_EQ(router.channel_count(), 0u);
  EXPECT_EQ(router.subscription_count(), 0u);
}

// The freeze regression at unit level: many distinct names in one request
// (the limit raised out of the way) are handled by the hash-set path.
TEST(RouterTest, ManyDistinctNamesInOneRequest) {
  BrokerOptions options;
  options.max_channels_per_request = 100000;
  options.max_channels_per_connection = 100000;
  BrokerStats stats;
  Router router(options, &stats);
  FakeSubscriber sub;
  std::vector<std::string> names;
  for (int i = 0; i < 50000; ++i) names.push_back(absl::StrCat("c", i));
  ASSERT_TRUE(router.Subscribe(&sub, SubscribeTo(names)).ok());
  EXPECT_EQ(router.channel_count(), 50000u);
}

// ---- Flow control (issue 19, item 2) ---------------------------------------

// A link subscriber (a gateway worker) with a settable room and stall.
class FakeLink : public FakeSubscriber {
 public:
  explicit FakeLink(size_t room) : room_(room) {}
  bool IsLink() const override { return true; }
  size_t QueueRoom() const override { return room_; }
  bool CloseIfStalled() override {
    if (!stalled) return false;
    ++closes;
    return true;
  }
  bool stalled = false;
  int closes = 0;

 private:
  size_t room_;
};

BrokerOptions FlowLimits() {
  BrokerOptions options;
  options.max_publish_fanout_bytes = 10000;
  options.max_channels_per_connection = 2;
  options.max_channels_per_link = 100;
  return options;
}

struct FlowCase {
  const char* name;
  size_t link_room;   // bytes the link's queue can still take
  size_t payload;     // bytes of the message
  int channels;       // channels named (all subscribed by the link)
  bool link_stalled;  // the link's queue has not moved for the timeout
  absl::StatusCode expected;
  int closes;  // links closed for a stall
};

class RouterFlowTest : public ::testing::TestWithParam<FlowCase> {};

// Admission is all or nothing: a publish that any link cannot take, or that
// would create more than max_publish_fanout_bytes, reaches nobody (the
// plain subscriber neither); otherwise everyone gets it.
TEST_P(RouterFlowTest, AllOrNothing) {
  const FlowCase& c = GetParam();
  BrokerStats stats;
  BrokerOptions options = FlowLimits();
  Router router(options, &stats);
  FakeLink link(c.link_room);
  link.stalled = c.link_stalled;
  FakeSubscriber plain;
  std::vector<std::string> names;
  for (int i = 0; i < c.channels; ++i) names.push_back(absl::StrCat("c", i));
  ASSERT_TRUE(router.Subscribe(&link, SubscribeTo(names)).ok());
  ASSERT_TRUE(router.Subscribe(&plain, SubscribeTo({"c0"})).ok());
  v1::Publish publish = PublishTo(names, std::string(c.payload, 'x'));
  const auto result = router.Publish(&publish);
  EXPECT_EQ(result.status().code(), c.expected) << result.status();
  if (c.expected == absl::StatusCode::kOk) {
    EXPECT_EQ(link.channels.size(), static_cast<size_t>(c.channels));
    EXPECT_EQ(plain.channels.size(), 1u);
  } else {
    EXPECT_TRUE(link.channels.empty());
    EXPECT_TRUE(plain.channels.empty());
  }
  EXPECT_EQ(link.closes, c.closes);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RouterFlowTest,
    ::testing::Values(FlowCase{"fits", 1 << 20, 100, 3, false,
                               absl::StatusCode::kOk, 0},
                      FlowCase{"one_channel_no_room", 150, 100, 1, false,
                               absl::StatusCode::kAborted, 0},
                      // Each channel fits alone; the three together do not.
                      FlowCase{"channels_add_up", 500, 100, 3, false,
                               absl::StatusCode::kAborted, 0},
                      FlowCase{"stalled_link_closed", 0, 100, 1, true,
                               absl::StatusCode::kAborted, 1},
                      FlowCase{"too_large_for_anyone", 1 << 20, 4000, 3, false,
                               absl::StatusCode::kResourceExhausted, 0}),
    [](const auto& info) { return std::string(info.param.name); });

// A link may hold max_channels_per_link channels; any other subscriber
// max_channels_per_connection.
TEST(RouterFlowLimitsTest, LinksHoldMoreChannels) {
  BrokerStats stats;
  BrokerOptions options = FlowLimits();
  Router router(options, &stats);
  FakeLink link(1 << 20);
  FakeSubscriber plain;
  EXPECT_TRUE(router.Subscribe(&link, SubscribeTo({"a", "b", "c"})).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(
      router.Subscribe(&plain, SubscribeTo({"a", "b", "c"}))));
}

// The publisher's own link (no_echo) is not asked: it delivered the
// message itself.
TEST(RouterFlowLimitsTest, NoEchoPublisherIsNotAdmitted) {
  BrokerStats stats;
  BrokerOptions options = FlowLimits();
  Router router(options, &stats);
  FakeLink full(0);
  ASSERT_TRUE(router.Subscribe(&full, SubscribeTo({"a"})).ok());
  v1::Publish publish = PublishTo({"a"}, "m");
  publish.set_no_echo(true);
  EXPECT_TRUE(router.Publish(&publish, &full).ok());
  v1::Publish again = PublishTo({"a"}, "m");
  EXPECT_TRUE(absl::IsAborted(router.Publish(&again).status()));
}

// A restart's grace pauses sole interest: a gateway that re-links first
// must not be told it holds a group alone (its publishes would skip the
// broker and the members whose gateways re-link later); its grant is
// revoked if it had one.
class SoleWanter : public FakeSubscriber {
 public:
  bool WantsSoleInterest() const override { return true; }
  bool SendInterest(const std::string& channel, uint64_t, bool sole) override {
    (sole ? grants : revokes).push_back(channel);
    return true;
  }
  std::vector<std::string> grants, revokes;
};

TEST(RouterSolePauseTest, PausedDuringARestartGrace) {
  BrokerOptions options;
  BrokerStats stats;
  Router router(options, &stats);
  SoleWanter early, later;
  ASSERT_TRUE(router.Subscribe(&early, SubscribeTo({"group:a"})).ok());
  EXPECT_EQ(early.grants, std::vector<std::string>{"group:a"});
  router.PauseSole(true);
  EXPECT_EQ(early.revokes, std::vector<std::string>{"group:a"});
  ASSERT_TRUE(router.Subscribe(&later, SubscribeTo({"group:b"})).ok());
  EXPECT_TRUE(later.grants.empty());
  router.PauseSole(false);
  // Grants come back as subscribers change.
  ASSERT_TRUE(router.Subscribe(&later, SubscribeTo({"group:c"})).ok());
  EXPECT_EQ(later.grants, std::vector<std::string>{"group:c"});
}

// The publish hook (PublishObserver, the PHP bridge's seam): it sees every
// channel of every admitted local publish, with its payload, after the
// subscribers; a publish it makes itself is delivered but not observed
// again; a refused publish is not observed; nor is an event from another
// broker (its origin observed it).
class RecordingObserver : public PublishObserver {
 public:
  explicit RecordingObserver(Router* router) : router_(router) {}
  void OnPublished(const std::string& channel,
                   const v1::Event& event) override {
    seen.push_back(channel + "=" + event.payload());
    if (channel == "echo") {
      v1::Publish derived = PublishTo({"derived"}, "from " + event.payload());
      EXPECT_TRUE(router_->Publish(&derived).ok());
    }
  }
  bool Needs(absl::string_view) const override { return false; }
  bool Wakes(absl::string_view) const override { return false; }
  std::vector<std::string> seen;

 private:
  Router* const router_;
};

TEST(RouterTest, TheObserverSeesEveryLocalPublishOnce) {
  BrokerOptions options = SmallLimits();
  BrokerStats stats;
  Router router(options, &stats);
  RecordingObserver observer(&router);
  router.set_observer(&observer);
  FakeSubscriber sub;
  ASSERT_TRUE(router.Subscribe(&sub, SubscribeTo({"a", "derived"})).ok());
  v1::Publish publish = PublishTo({"a", "b", "a"}, "p");
  ASSERT_TRUE(router.Publish(&publish).ok());
  EXPECT_EQ(observer.seen, (std::vector<std::string>{"a=p", "b=p"}));
  observer.seen.clear();
  v1::Publish echo = PublishTo({"echo"}, "q");
  ASSERT_TRUE(router.Publish(&echo).ok());
  EXPECT_EQ(observer.seen, std::vector<std::string>{"echo=q"});
  EXPECT_EQ(sub.payloads, (std::vector<std::string>{"p", "from q"}));
  observer.seen.clear();
  v1::Publish refused = PublishTo({"123456789"}, "r");  // name over limit
  EXPECT_FALSE(router.Publish(&refused).ok());
  v1::Envelope remote;
  remote.mutable_event()->set_channel("a");
  remote.mutable_event()->set_payload("s");
  EXPECT_EQ(router.DeliverRemote(remote), 1u);
  EXPECT_TRUE(observer.seen.empty());
}

// A cluster and its history sink, recorded: what the Router forwards,
// which channels it asks interest for, and what it hands the sink (whose
// answers the test gives).
class FakeCluster : public ClusterLink {
 public:
  bool up() const override { return true; }
  void Interest(const std::string& channel, bool first) override {
    interest.push_back(absl::StrCat(first ? "+" : "-", channel));
  }
  absl::Status Forward(const v1::Envelope& event) override {
    forwarded.push_back(event.event().channel());
    return absl::OkStatus();
  }
  std::vector<std::string> interest, forwarded;
};

class FakeSink : public HistorySink {
 public:
  bool Handles(absl::string_view channel) const override {
    return absl::StartsWith(channel, "h");
  }
  absl::Status Store(const v1::Event& event, Done done) override {
    if (!refuse.ok()) return refuse;
    EXPECT_EQ(event.offset(), 0u);  // the sink's sequencer gives it
    stored.push_back(event.channel());
    dones.push_back(std::move(done));
    return absl::OkStatus();
  }
  absl::Status refuse;
  std::vector<std::string> stored;
  std::vector<Done> dones;
};

struct SinkRig {
  BrokerOptions options;
  BrokerStats stats;
  Router router{options, &stats};
  FakeCluster cluster;
  FakeSink sink;
  FakeSubscriber local;
  SinkRig() {
    router.set_cluster(&cluster);
    router.set_history_sink(&sink);
  }
};

TEST(RouterHistorySinkTest, HistoryChannelsGoToTheSinkAndAnswerWhenStored) {
  SinkRig rig;
  ASSERT_TRUE(rig.router.Subscribe(&rig.local, SubscribeTo({"h1", "p1"})).ok());
  // Interest in the cluster only for the channel without history: the
  // sink's feed brings the others.
  EXPECT_EQ(rig.cluster.interest, (std::vector<std::string>{"+p1"}));
  std::vector<absl::StatusOr<uint64_t>> outcomes;
  v1::Publish publish = PublishTo({"h1", "p1"}, "x");
  absl::StatusOr<uint64_t> r = rig.router.Publish(
      &publish, nullptr,
      [&](const absl::StatusOr<uint64_t>& o) { outcomes.push_back(o); });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, Router::kDeferred);
  // p1: delivered and forwarded now; h1: stored, not delivered here.
  EXPECT_EQ(rig.local.channels, (std::vector<std::string>{"p1"}));
  EXPECT_EQ(rig.cluster.forwarded, (std::vector<std::string>{"p1"}));
  EXPECT_EQ(rig.sink.stored, (std::vector<std::string>{"h1"}));
  EXPECT_TRUE(outcomes.empty());  // not before the sink answers
  rig.sink.dones[0](absl::OkStatus());
  ASSERT_EQ(outcomes.size(), 1u);
  ASSERT_TRUE(outcomes[0].ok());
  EXPECT_EQ(*outcomes[0], 1u);  // the delivery made at once (p1)
}

TEST(RouterHistorySinkTest, TheFirstFailureIsTheAnswer) {
  SinkRig rig;
  std::vector<absl::StatusOr<uint64_t>> outcomes;
  v1::Publish publish = PublishTo({"h1", "h2"}, "x");
  auto r = rig.router.Publish(
      &publish, nullptr,
      [&](const absl::StatusOr<uint64_t>& o) { outcomes.push_back(o); });
  ASSERT_EQ(*r, Router::kDeferred);
  ASSERT_EQ(rig.sink.dones.size(), 2u);
  rig.sink.dones[1](absl::UnavailableError("leader lost"));
  EXPECT_TRUE(outcomes.empty());  // h1 still waits
  rig.sink.dones[0](absl::OkStatus());
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_TRUE(absl::IsUnavailable(outcomes[0].status()));
  EXPECT_TRUE(absl::StrContains(outcomes[0].status().message(), "leader lost"));
}

TEST(RouterHistorySinkTest, ARefusalIsSaidAtOnceAndNeverAgain) {
  SinkRig rig;
  rig.sink.refuse = absl::AbortedError("too many in flight");
  int called = 0;
  v1::Publish publish = PublishTo({"h1"}, "x");
  auto r = rig.router.Publish(
      &publish, nullptr, [&](const absl::StatusOr<uint64_t>&) { ++called; });
  EXPECT_TRUE(absl::IsAborted(r.status()));
  EXPECT_EQ(called, 0);
  EXPECT_EQ(rig.stats.publishes_refused_history, 1u);
  // Without `done`: stored, and the caller is not told (counted only).
  rig.sink.refuse = absl::OkStatus();
  v1::Publish quiet = PublishTo({"h1"}, "y");
  auto q = rig.router.Publish(&quiet);
  ASSERT_TRUE(q.ok());
  EXPECT_NE(*q, Router::kDeferred);
  ASSERT_EQ(rig.sink.dones.size(), 1u);
  rig.sink.dones[0](absl::OkStatus());  // nobody to tell: no crash
}

}  // namespace
}  // namespace channel
