// BrokerClient against a fake broker: a loopback listener whose accepted
// connection the test drives frame by frame (RawFrameSocket) on a thread of
// its own, while the client runs on the test thread's io_context.
#include "client/broker_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "asio/io_context.hpp"
#include "gtest/gtest.h"
#include "tests/support/sockets/raw_frame_socket.h"

namespace channel {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::RawFrameSocket;

// A listening loopback socket; Accept() hands out the next connection.
class FakeBroker {
 public:
  FakeBroker() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 4);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~FakeBroker() { ::close(fd_); }
  int port() const { return port_; }
  std::unique_ptr<RawFrameSocket> Accept() {
    return RawFrameSocket::Adopt(::accept(fd_, nullptr, nullptr));
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

v1::Envelope Welcome() {
  v1::Envelope e;
  e.mutable_welcome()->set_protocol_version(1);
  e.mutable_welcome()->set_idle_timeout_ms(30000);
  e.mutable_welcome()->set_max_frame_bytes(1 << 16);
  return e;
}

class BrokerClientTest : public ::testing::Test {
 protected:
  void StartClient(BrokerClientOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = static_cast<uint16_t>(broker_.port());
    options.auth_token = "tok";
    options.backoff_initial = milliseconds(10);
    options.backoff_max = milliseconds(50);
    client_ = std::make_unique<BrokerClient>(io_, options);
    client_->set_state_handler(
        [this](bool up, absl::string_view) { up ? ++ups_ : ++downs_; });
    client_->set_quiet_failure_handler(
        [this](uint64_t tag, const absl::Status& s) {
          failed_tags_.push_back(tag);
          failures_.push_back(s);
        });
    client_->Start();
  }

  // Runs the fake broker's script on its own thread.
  void Script(std::function<void()> script) {
    script_ = std::thread(std::move(script));
  }

  bool RunUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(5);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(milliseconds(10));
    }
    return done();
  }

  void TearDown() override {
    if (script_.joinable()) script_.join();
    client_.reset();
  }

  FakeBroker broker_;
  asio::io_context io_;
  std::unique_ptr<BrokerClient> client_;
  std::thread script_;
  int ups_ = 0;
  int downs_ = 0;
  std::vector<uint64_t> failed_tags_;
  std::vector<absl::Status> failures_;
};

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

}  // namespace channel
