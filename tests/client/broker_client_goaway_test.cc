// BrokerClient and a draining broker's GoAway: moving to the next broker
// once its requests settle, staying when there is nowhere to go, and the
// channel source the client resubscribes from.
#include "tests/client/broker_client_fixture.h"

namespace channel::testing {
namespace {

v1::Envelope GoAway(uint32_t close_in_ms) {
  v1::Envelope e;
  e.mutable_go_away()->set_close_in_ms(close_in_ms);
  e.mutable_go_away()->set_reason("broker shutting down");
  return e;
}

v1::Envelope AckOf(uint64_t request_id) {
  v1::Envelope e;
  e.mutable_ack()->set_request_id(request_id);
  return e;
}

// A draining broker's GoAway: the client dials the next broker while the
// old link still works, starts no new publish on it (Unavailable: nothing
// sent), lets the publish in flight be acknowledged there, and only then
// closes the old link and subscribes on the new one. The switch is one
// down/up for the state handler; nothing is subscribed twice at once.
TEST_F(BrokerClientTest, GoAwayMovesToTheNextBrokerAfterItsRequestsSettle) {
  FakeBroker next;
  // Futures taken here: the promises die with this body, possibly before
  // a script thread would get to them.
  std::promise<void> next_welcomed, unavailable_seen;
  std::future<void> next_welcomed_f = next_welcomed.get_future();
  std::future<void> unavailable_seen_f = unavailable_seen.get_future();
  std::atomic<bool> old_acked{false}, old_closed{false}, next_ok{false};
  std::thread next_script([&] {
    auto conn = next.Accept();
    auto hello = conn->ReadEnvelope(seconds(5));
    ASSERT_TRUE(hello && hello->has_hello());
    // Resuming from the draining broker: a young broker learns it was not
    // the one that restarted only if it knows where its clients came from.
    EXPECT_EQ(hello->hello().resuming_from(), "old");
    conn->SendEnvelope(Welcome());
    next_welcomed.set_value();
    auto sub = conn->ReadEnvelope(seconds(5));
    ASSERT_TRUE(sub && sub->has_subscribe());
    // Subscribed here only after the old link's request was answered.
    EXPECT_TRUE(old_acked.load());
    EXPECT_EQ(sub->subscribe().channels_size(), 1);
    conn->SendEnvelope(AckOf(sub->subscribe().request_id()));
    next_ok = true;
    conn->WaitForEof(seconds(5));
  });
  Script([&] {
    auto conn = broker_.Accept();
    conn->ReadEnvelope(seconds(5));
    v1::Envelope welcome = Welcome();
    welcome.mutable_welcome()->set_broker_id("old");
    conn->SendEnvelope(welcome);
    auto sub = conn->ReadEnvelope(seconds(5));
    ASSERT_TRUE(sub && sub->has_subscribe());
    conn->SendEnvelope(AckOf(sub->subscribe().request_id()));
    auto publish = conn->ReadEnvelope(seconds(5));
    ASSERT_TRUE(publish && publish->has_publish());
    conn->SendEnvelope(GoAway(10000));
    // The old link keeps working until the publish in flight is answered.
    ASSERT_EQ(next_welcomed_f.wait_for(seconds(5)), std::future_status::ready);
    ASSERT_EQ(unavailable_seen_f.wait_for(seconds(5)),
              std::future_status::ready);
    old_acked = true;
    conn->SendEnvelope(AckOf(publish->publish().request_id()));
    old_closed = conn->WaitForEof(seconds(5));
  });
  BrokerClientOptions options;
  options.endpoints = {{"127.0.0.1", static_cast<uint16_t>(broker_.port())},
                       {"127.0.0.1", static_cast<uint16_t>(next.port())}};
  StartClient(options);
  client_->Subscribe({"a"});
  ASSERT_TRUE(RunUntil([&] { return ups_ == 1; }));
  absl::Status published = absl::UnknownError("not answered");
  ASSERT_TRUE(
      client_
          ->Publish({"a"}, "p", nullptr,
                    [&](const absl::Status& s, uint64_t) { published = s; })
          .ok());
  ASSERT_TRUE(RunUntil([&] { return client_->stats().moves == 1; }));
  // Moving: no new publish starts on the draining link.
  EXPECT_TRUE(absl::IsUnavailable(client_->Publish({"a"}, "q")));
  unavailable_seen.set_value();
  ASSERT_TRUE(RunUntil([&] { return ups_ == 2; }));
  EXPECT_TRUE(published.ok()) << published;
  EXPECT_EQ(downs_, 1);
  EXPECT_TRUE(client_->connected());
  EXPECT_EQ(client_->subscription_count(), 1u);
  EXPECT_TRUE(RunUntil([&] { return old_closed.load() && next_ok.load(); }));
  client_.reset();
  next_script.join();
  script_.join();  // both scripts use this body's locals
}

// Nowhere to go (the only broker drains; the next attempt is refused): the
// client stays on the draining link, which keeps serving subscriptions,
// until the broker closes it.
TEST_F(BrokerClientTest, GoAwayWithNowhereToGoStaysOnTheDrainingBroker) {
  std::promise<void> subscribed_again;
  std::future<void> subscribed_again_f = subscribed_again.get_future();
  std::atomic<bool> refused{false};
  Script([&] {
    auto conn = broker_.Accept();
    conn->ReadEnvelope(seconds(5));
    conn->SendEnvelope(Welcome());
    conn->SendEnvelope(GoAway(10000));
    // The client's attempt to move: refused.
    auto attempt = broker_.Accept();
    attempt.reset();
    refused = true;
    auto sub = conn->ReadEnvelope(seconds(5));
    ASSERT_TRUE(sub && sub->has_subscribe());
    conn->SendEnvelope(AckOf(sub->subscribe().request_id()));
    ASSERT_EQ(subscribed_again_f.wait_for(seconds(5)),
              std::future_status::ready);
  });
  StartClient();
  ASSERT_TRUE(RunUntil([&] { return ups_ == 1 && refused.load(); }));
  absl::Status subscribed = absl::UnknownError("not answered");
  client_->Subscribe({"b"},
                     [&](const absl::Status& s, uint64_t) { subscribed = s; });
  ASSERT_TRUE(RunUntil(
      [&] { return subscribed.code() != absl::StatusCode::kUnknown; }));
  EXPECT_TRUE(subscribed.ok()) << subscribed;
  EXPECT_TRUE(client_->connected());
  EXPECT_EQ(downs_, 0);
  EXPECT_EQ(client_->stats().moves, 1u);
  subscribed_again.set_value();
  script_.join();  // it uses this body's locals
  client_.reset();
}

// A caller that owns the channel set (a gateway's membership) lends it: the
// client keeps no copy, re-subscribes exactly what the source lists, and
// counts the source's channels.
TEST_F(BrokerClientTest, ChannelSourceIsTheSetTheClientResubscribes) {
  class Source : public BrokerClient::ChannelSource {
   public:
    size_t ChannelCount() const override { return channels.size(); }
    void ForEachChannel(
        absl::FunctionRef<void(const std::string&)> fn) const override {
      for (const std::string& c : channels) fn(c);
    }
    std::vector<std::string> channels{"x", "y"};
  } source;
  std::vector<std::string> subscribed;
  Script([&] {
    auto conn = broker_.Accept();
    conn->ReadEnvelope(seconds(5));
    conn->SendEnvelope(Welcome());
    auto sub = conn->ReadEnvelope(seconds(5));
    ASSERT_TRUE(sub && sub->has_subscribe());
    for (const auto& c : sub->subscribe().channels()) subscribed.push_back(c);
    conn->SendEnvelope(AckOf(sub->subscribe().request_id()));
  });
  BrokerClientOptions options;
  options.host = "127.0.0.1";
  options.port = static_cast<uint16_t>(broker_.port());
  client_ = std::make_unique<BrokerClient>(io_, options);
  client_->set_channel_source(&source);
  client_->set_state_handler(
      [this](bool up, absl::string_view) { up ? ++ups_ : ++downs_; });
  client_->Subscribe({"ignored-while-down"});  // the source's set counts
  client_->Start();
  ASSERT_TRUE(RunUntil([&] { return ups_ == 1; }));
  script_.join();  // `subscribed` is complete
  std::sort(subscribed.begin(), subscribed.end());
  EXPECT_EQ(subscribed, (std::vector<std::string>{"x", "y"}));
  source.channels.push_back("z");  // the owner adds first, then subscribes
  client_->Subscribe({"z"});
  EXPECT_EQ(client_->subscription_count(), 3u);
  client_.reset();
}

}  // namespace
}  // namespace channel::testing
