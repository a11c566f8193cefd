// Router against fake subscribers: validation, de-duplication, fan-out and
// cleanup, table-driven where the cases are alike.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/broker/routing/router_fixture.h"

namespace channel::testing {
namespace {

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

}  // namespace
}  // namespace channel::testing
