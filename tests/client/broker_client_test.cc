// BrokerClient against a fake broker: a loopback listener whose accepted
// connection the test drives frame by frame (RawFrameSocket) on a thread of
// its own, while the client runs on the test thread's io_context.
#include "tests/client/broker_client_fixture.h"

namespace channel::testing {
namespace {

TEST_F(BrokerClientTest, HelloThenResubscribeBeforeConnected) {
  std::atomic<bool> ok{false};
  Script([&] {
    auto conn = broker_.Accept();
    auto hello = conn->ReadEnvelope(seconds(5));
    ASSERT_TRUE(hello && hello->has_hello());
    EXPECT_EQ(hello->hello().protocol_version(), 1u);
    EXPECT_EQ(hello->hello().auth_token(), "tok");
    conn->SendEnvelope(Welcome());
    auto sub = conn->ReadEnvelope(seconds(5));
    ASSERT_TRUE(sub && sub->has_subscribe());
    EXPECT_EQ(sub->subscribe().channels_size(), 2);
    // Set before the Ack: once it is sent the client may be connected
    // (and the test checking `ok`) before this thread runs again.
    ok = true;
    v1::Envelope ack;
    ack.mutable_ack()->set_request_id(sub->subscribe().request_id());
    conn->SendEnvelope(ack);
    conn->WaitForEof(seconds(5));
  });
  StartClient();
  client_->Subscribe({"a", "b"});  // before the link: held for the connect
  ASSERT_TRUE(RunUntil([&] { return ups_ == 1; }));
  EXPECT_TRUE(ok);
  EXPECT_TRUE(client_->connected());
  client_.reset();
}

// Before the Welcome only small frames are accepted: a peer on the
// broker's address that declares a 16 MiB frame is dropped at once, not
// buffered until the connect timeout.
TEST_F(BrokerClientTest, LargeFrameBeforeWelcomeDropsTheLinkAtOnce) {
  std::atomic<bool> dropped{false};
  std::atomic<bool> done{false};
  Script([&] {
    auto conn = broker_.Accept();
    auto hello = conn->ReadEnvelope(seconds(5));
    if (hello && hello->has_hello() &&
        conn->SendRaw(std::string("\x01\x00\x00\x00", 4))) {
      dropped = conn->WaitForEof(seconds(4));
    }
    done = true;
  });
  BrokerClientOptions options;
  options.connect_timeout = seconds(60);  // only the frame bound may end it
  StartClient(options);
  EXPECT_TRUE(RunUntil([&] { return done.load(); }));
  EXPECT_TRUE(dropped);
  EXPECT_EQ(ups_, 0);
  client_.reset();
}

// Sole interest: a grant makes HoldsAlone true for this link only; a
// revoke is released at once (answered with the grant's id) and the link's
// end forgets every grant.
TEST_F(BrokerClientTest, SoleInterestGrantRevokeAndLinkEnd) {
  std::atomic<int> stage{0};
  std::atomic<bool> asked{false};
  std::atomic<uint64_t> released{0};
  Script([&] {
    auto conn = broker_.Accept();
    auto hello = conn->ReadEnvelope(seconds(5));
    ASSERT_TRUE(hello && hello->has_hello());
    asked = hello->hello().sole_interest();
    conn->SendEnvelope(Welcome());
    auto sub = conn->ReadEnvelope(seconds(5));
    ASSERT_TRUE(sub && sub->has_subscribe());
    for (const char* channel : {"g", "h"}) {
      v1::Envelope grant;
      grant.mutable_interest()->set_channel(channel);
      grant.mutable_interest()->set_grant(channel[0] == 'g' ? 41 : 42);
      grant.mutable_interest()->set_sole(true);
      conn->SendEnvelope(grant);
    }
    v1::Envelope ack;
    ack.mutable_ack()->set_request_id(sub->subscribe().request_id());
    conn->SendEnvelope(ack);
    while (stage < 1) std::this_thread::yield();
    v1::Envelope revoke;
    revoke.mutable_interest()->set_channel("g");
    revoke.mutable_interest()->set_grant(41);
    conn->SendEnvelope(revoke);
    auto answer = conn->ReadEnvelope(seconds(5));
    ASSERT_TRUE(answer && answer->has_interest());
    EXPECT_EQ(answer->interest().channel(), "g");
    EXPECT_FALSE(answer->interest().sole());
    released = answer->interest().grant();
    while (stage < 2) std::this_thread::yield();
    // The link ends; the second connection grants nothing.
    conn.reset();
    auto again = broker_.Accept();
    again->ReadEnvelope(seconds(5));
    again->SendEnvelope(Welcome());
    auto resub = again->ReadEnvelope(seconds(5));
    ASSERT_TRUE(resub && resub->has_subscribe());
    v1::Envelope ack2;
    ack2.mutable_ack()->set_request_id(resub->subscribe().request_id());
    again->SendEnvelope(ack2);
    again->WaitForEof(seconds(5));
  });
  BrokerClientOptions options;
  options.sole_interest = true;
  StartClient(options);
  client_->Subscribe({"g", "h"});
  ASSERT_TRUE(RunUntil([&] { return ups_ == 1; }));
  EXPECT_TRUE(asked);
  EXPECT_TRUE(client_->HoldsAlone("g"));
  EXPECT_TRUE(client_->HoldsAlone("h"));
  EXPECT_FALSE(client_->HoldsAlone("other"));
  stage = 1;
  ASSERT_TRUE(RunUntil([&] { return !client_->HoldsAlone("g"); }));
  EXPECT_TRUE(client_->HoldsAlone("h"));
  ASSERT_TRUE(RunUntil([&] { return released == 41; }));
  stage = 2;
  ASSERT_TRUE(RunUntil([&] { return ups_ == 2; }));
  EXPECT_FALSE(client_->HoldsAlone("h"));
  EXPECT_EQ(client_->held_alone_count(), 0u);
  client_.reset();
}

TEST_F(BrokerClientTest, QuietPublishesConfirmedCumulativelyOrReported) {
  Script([&] {
    auto conn = broker_.Accept();
    conn->ReadEnvelope(seconds(5));
    conn->SendEnvelope(Welcome());
    std::vector<uint64_t> ids;
    for (int i = 0; i < 4; ++i) {
      auto p = conn->ReadEnvelope(seconds(5));
      ASSERT_TRUE(p && p->has_publish());
      EXPECT_TRUE(p->publish().cumulative_ack());
      ids.push_back(p->publish().request_id());
    }
    // The second is refused; the first and third confirmed together.
    v1::Envelope error;
    error.mutable_error()->set_code(v1::Error::LIMIT_EXCEEDED);
    error.mutable_error()->set_request_id(ids[1]);
    conn->SendEnvelope(error);
    v1::Envelope ack;
    ack.mutable_ack()->set_request_id(ids[2]);
    ack.mutable_ack()->set_cumulative(true);
    conn->SendEnvelope(ack);
    // A marker publish the test waits for, then the link drops with the
    // fourth unconfirmed.
    v1::Envelope event;
    event.mutable_event()->set_channel("x");
    conn->SendEnvelope(event);
  });
  StartClient();
  int events = 0;
  client_->set_event_handler([&](v1::Event&) { ++events; });
  ASSERT_TRUE(RunUntil([&] { return ups_ == 1; }));
  for (uint64_t tag = 1; tag <= 4; ++tag) {
    ASSERT_TRUE(client_->PublishQuiet({"c"}, "p", nullptr, tag).ok());
  }
  ASSERT_TRUE(RunUntil([&] { return events == 1; }));
  ASSERT_EQ(failed_tags_, std::vector<uint64_t>{2});
  EXPECT_TRUE(absl::IsResourceExhausted(failures_[0]));
  script_.join();  // the fake broker closes the connection
  ASSERT_TRUE(RunUntil([&] { return failed_tags_.size() == 2; }));
  EXPECT_EQ(failed_tags_[1], 4u);
  EXPECT_TRUE(absl::IsUnavailable(failures_[1]));
  EXPECT_EQ(client_->stats().quiet_failures, 2u);
}

TEST_F(BrokerClientTest, RequestsAreBoundedByFrameLimitAndQueue) {
  Script([&] {
    auto conn = broker_.Accept();
    conn->ReadEnvelope(seconds(5));
    conn->SendEnvelope(Welcome());  // max_frame_bytes 64 KiB
    conn->WaitForEof(seconds(5));
  });
  BrokerClientOptions options;
  options.max_queued_bytes = 150 * 1024;
  options.max_unconfirmed = 3;
  StartClient(options);
  ASSERT_TRUE(RunUntil([&] { return ups_ == 1; }));
  // A Subscribe whose frame exceeds the broker's 64 KiB: refused, not held.
  std::vector<std::string> many;
  for (int i = 0; i < 10000; ++i)
    many.push_back("channel-" + std::to_string(i));
  absl::Status status;
  client_->Subscribe(many,
                     [&](const absl::Status& s, uint64_t) { status = s; });
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_EQ(client_->subscription_count(), 0u);
  // Publishes fill the queue (nothing is flushed until the loop runs).
  const std::string payload(60 * 1024, 'x');
  int queued = 0;
  absl::Status last;
  for (int i = 0; i < 10 && last.ok(); ++i) {
    last = client_->Publish({"c"}, payload);
    if (last.ok()) ++queued;
  }
  EXPECT_EQ(queued, 2);
  EXPECT_TRUE(absl::IsResourceExhausted(last)) << last;
  // Then Subscribe is refused the same way, and the set is unchanged.
  std::vector<std::string> some(many.begin(), many.begin() + 3000);
  client_->Subscribe(some,
                     [&](const absl::Status& s, uint64_t) { status = s; });
  EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
  EXPECT_EQ(client_->subscription_count(), 0u);
  // PublishQuiet is bounded by max_unconfirmed as well.
  int quiet = 0;
  for (int i = 0; i < 5; ++i) {
    if (client_->PublishQuiet({"c"}, "p", nullptr, i).ok()) ++quiet;
  }
  EXPECT_EQ(quiet, 3);
  client_.reset();
}

}  // namespace
}  // namespace channel::testing
