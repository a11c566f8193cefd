// channel-broker's limits as a real process: per-request limits answered
// without closing, a huge publish or a slow subscriber never stalls the
// others, cumulative Acks, nothing large before Hello, handshakes bounded.
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/framing/frame_encoder.h"
#include "gtest/gtest.h"
#include "tests/broker/broker_fixture.h"
#include "tests/support/clients/test_broker_client.h"
#include "tests/support/sockets/raw_frame_socket.h"

namespace channel::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(BrokerIntegrationTest, RequestLimitsAnswerWithoutClosing) {
  BrokerProcess broker = BrokerProcess::Start(
      {"--max_channel_name_bytes=8", "--max_channels_per_connection=2"});
  TestBrokerClient a(broker.port);
  ASSERT_TRUE(a.WaitConnected());
  absl::Status s = a.Subscribe({"much-too-long"});
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_NE(s.message().find("exceeds the limit of 8"), std::string::npos);
  s = a.Subscribe({""});
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  ASSERT_TRUE(a.Subscribe({"a", "b"}).ok());
  s = a.Subscribe({"c"});
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_TRUE(a.Subscribe({"a"}).ok());  // already held: no new channel
  EXPECT_EQ(*a.Publish("a", "ok"), 1u);  // connection still open
}

// A Publish naming 60,000 distinct channels once froze the broker for 9 s
// (pairwise de-duplication). With the per-request limit raised out of the
// way, the broker must still handle such a frame in linear time: a second
// client's request is answered while the first one's big frame is being
// processed, well within the wait below.
TEST(BrokerIntegrationTest, HugeDistinctPublishDoesNotStallOthers) {
  BrokerProcess broker =
      BrokerProcess::Start({"--max_channels_per_request=1000000"});
  TestBrokerClient other(broker.port);
  ASSERT_TRUE(other.WaitConnected());
  ASSERT_TRUE(other.Subscribe({"room"}).ok());
  RawFrameSocket big(broker.port);
  ASSERT_TRUE(big.SendHello());
  ASSERT_TRUE(big.ReadEnvelope(seconds(5)));  // Welcome
  v1::Envelope publish;
  for (int i = 0; i < 60000; ++i) {
    publish.mutable_publish()->add_channels(absl::StrCat("c", i));
  }
  publish.mutable_publish()->add_channels("room");
  publish.mutable_publish()->set_payload("big");
  publish.mutable_publish()->set_request_id(9);
  ASSERT_TRUE(big.SendEnvelope(publish));
  auto receivers = other.Publish("room", "small");
  ASSERT_TRUE(receivers.ok()) << receivers.status();
  auto ack = big.ReadEnvelope(seconds(5));
  ASSERT_TRUE(ack && ack->has_ack());
  EXPECT_EQ(ack->ack().receivers(), 1u);
  EXPECT_EQ(other.WaitForEvents(2).size(), 2u);
}

// Every request kind is refused past --max_channels_per_request, with
// LIMIT_EXCEEDED and the connection left open.
TEST(BrokerIntegrationTest, ChannelsPerRequestLimitOnEveryRequest) {
  BrokerProcess broker = BrokerProcess::Start({"--max_channels_per_request=3"});
  RawFrameSocket raw(broker.port);
  ASSERT_TRUE(raw.SendHello());
  ASSERT_TRUE(raw.ReadEnvelope(seconds(5)));
  for (int kind = 0; kind < 3; ++kind) {
    v1::Envelope request;
    google::protobuf::RepeatedPtrField<std::string>* names;
    if (kind == 0) {
      names = request.mutable_subscribe()->mutable_channels();
      request.mutable_subscribe()->set_request_id(kind + 1);
    } else if (kind == 1) {
      names = request.mutable_unsubscribe()->mutable_channels();
      request.mutable_unsubscribe()->set_request_id(kind + 1);
    } else {
      names = request.mutable_publish()->mutable_channels();
      request.mutable_publish()->set_request_id(kind + 1);
    }
    for (const char* n : {"a", "b", "c", "d"}) names->Add(n);
    ASSERT_TRUE(raw.SendEnvelope(request));
    auto reply = raw.ReadEnvelope(seconds(5));
    ASSERT_TRUE(reply && reply->has_error()) << kind;
    EXPECT_EQ(reply->error().code(), v1::Error::LIMIT_EXCEEDED);
    EXPECT_EQ(reply->error().request_id(), static_cast<uint64_t>(kind + 1));
    EXPECT_NE(reply->error().message().find("limit per request is 3"),
              std::string::npos);
  }
  v1::Envelope ok;
  for (const char* n : {"a", "b", "a"}) ok.mutable_subscribe()->add_channels(n);
  ok.mutable_subscribe()->set_request_id(7);
  ASSERT_TRUE(raw.SendEnvelope(ok));
  auto reply = raw.ReadEnvelope(seconds(5));
  ASSERT_TRUE(reply && reply->has_ack());
  EXPECT_EQ(broker.Metric("channel_broker_subscriptions"), 2);
}

// cumulative_ack publishes: one Ack covers them all; a refused one gets its
// Error (with its id) first. no_echo keeps the publisher's own copy away.
TEST(BrokerIntegrationTest, CumulativeAckAndNoEcho) {
  BrokerProcess broker = BrokerProcess::Start();
  TestBrokerClient other(broker.port);
  ASSERT_TRUE(other.WaitConnected());
  ASSERT_TRUE(other.Subscribe({"e"}).ok());
  RawFrameSocket raw(broker.port);
  ASSERT_TRUE(raw.SendHello());
  ASSERT_TRUE(raw.ReadEnvelope(seconds(5)));  // Welcome
  v1::Envelope subscribe;
  subscribe.mutable_subscribe()->add_channels("e");
  subscribe.mutable_subscribe()->set_request_id(100);
  ASSERT_TRUE(raw.SendEnvelope(subscribe));
  auto sub_ack = raw.ReadEnvelope(seconds(5));
  ASSERT_TRUE(sub_ack && sub_ack->has_ack());

  std::string batch;  // three publishes in one write: one read pass
  for (uint64_t id = 1; id <= 3; ++id) {
    v1::Envelope publish;
    publish.mutable_publish()->add_channels(id == 2 ? "" : "e");
    publish.mutable_publish()->set_payload(absl::StrCat("p", id));
    publish.mutable_publish()->set_request_id(id);
    publish.mutable_publish()->set_cumulative_ack(true);
    publish.mutable_publish()->set_no_echo(true);
    batch += *EncodeFrame(publish);
  }
  ASSERT_TRUE(raw.SendRaw(batch));
  auto error = raw.ReadEnvelope(seconds(5));
  ASSERT_TRUE(error && error->has_error()) << error->DebugString();
  EXPECT_EQ(error->error().request_id(), 2u);
  EXPECT_EQ(error->error().code(), v1::Error::INVALID_REQUEST);
  auto ack = raw.ReadEnvelope(seconds(5));
  ASSERT_TRUE(ack && ack->has_ack()) << ack->DebugString();
  EXPECT_TRUE(ack->ack().cumulative());
  EXPECT_EQ(ack->ack().request_id(), 3u);
  // The other subscriber got both; the publisher, subscribed too, none.
  auto events = other.WaitForEvents(2);
  EXPECT_EQ(Payloads(events), (std::vector<std::string>{"p1", "p3"}));
  v1::Envelope marker;
  marker.mutable_publish()->add_channels("e");
  marker.mutable_publish()->set_payload("echo");
  ASSERT_TRUE(raw.SendEnvelope(marker));
  auto next = raw.ReadEnvelope(seconds(5));
  ASSERT_TRUE(next && next->has_event());
  EXPECT_EQ(next->event().payload(), "echo");  // p1 and p3 never came back
}

TEST(BrokerIntegrationTest, SlowSubscriberDisconnectedOthersKeepReceiving) {
  BrokerProcess broker = BrokerProcess::Start({"--max_queued_bytes=262144"});
  TestBrokerClient pub(broker.port), fast(broker.port);
  ASSERT_TRUE(pub.WaitConnected());
  ASSERT_TRUE(fast.WaitConnected());
  ASSERT_TRUE(fast.Subscribe({"flood"}).ok());

  RawFrameSocket slow(broker.port, /*receive_buffer=*/4096);
  ASSERT_TRUE(slow.SendHello());
  ASSERT_TRUE(slow.ReadEnvelope(seconds(5)));  // Welcome
  v1::Envelope subscribe;
  subscribe.mutable_subscribe()->add_channels("flood");
  subscribe.mutable_subscribe()->set_request_id(1);
  ASSERT_TRUE(slow.SendEnvelope(subscribe));
  ASSERT_TRUE(slow.ReadEnvelope(seconds(5)));  // Ack; then it stops reading

  // 16 MiB in 4 KiB events: far beyond the kernel's socket buffers plus the
  // 256 KiB queue bound. The publisher paces itself on the fast
  // subscriber: after every 16 events (64 KiB, a quarter of the bound) it
  // waits until the fast one has them all, so the fast one's queue stays
  // far under the bound however loaded the machine is (it never has to
  // out-run the publisher), while the slow one, which never reads, passes it.
  const std::string payload(4096, 'p');
  constexpr int kCount = 4096;
  constexpr int kWindow = 16;
  size_t from = 0;
  bool cut = false;
  for (int i = 0; i < kCount; ++i) {
    if (i % kWindow != kWindow - 1) {
      ASSERT_TRUE(pub.PublishNoWait("flood", payload).ok());
      continue;
    }
    ASSERT_TRUE(pub.Publish("flood", payload).ok());
    ASSERT_EQ(fast.WaitForEvents(i + 1, seconds(30)).size(),
              static_cast<size_t>(i + 1));
    if (!cut && broker.process
                    ->WaitForLine("not reading fast enough",
                                  std::chrono::milliseconds(0), &from)
                    .has_value()) {
      cut = true;
      // The slow peer, reading again within the close grace period, finds
      // events, then the reason, then EOF.
      std::optional<v1::Envelope> last;
      while (auto envelope = slow.ReadEnvelope(seconds(5))) last = envelope;
      ASSERT_TRUE(last && last->has_error());
      EXPECT_EQ(last->error().code(), v1::Error::SLOW_CONSUMER);
    }
  }
  EXPECT_TRUE(cut);
  EXPECT_EQ(fast.Events().size(), static_cast<size_t>(kCount));
  EXPECT_EQ(broker.Metric("channel_broker_slow_consumer_disconnects_total"), 1);
  EXPECT_EQ(broker.Metric("channel_broker_connections"), 2);
}

// Issue 19 item 3: with a token, 40 connections that never say Hello each
// declared a 16 MiB frame and sent 4 MiB of it; the broker buffered all of
// it (9 -> 541 MiB with more). Now a frame over the small bound before the
// Hello is refused at once, the broker's memory stays put, and a client
// with the token is served meanwhile.
TEST(BrokerIntegrationTest, NoLargeFrameBeforeHello) {
  BrokerProcess broker = BrokerProcess::Start({"--auth_token=s3cret"});
  const long rss_before = ProcessRssKiB(broker.process->pid());
  ASSERT_GT(rss_before, 0);
  const std::string header = {0x01, 0x00, 0x00, 0x00};  // 16 MiB declared
  const std::string chunk(1 << 20, 'x');
  std::vector<std::unique_ptr<RawFrameSocket>> attackers;
  for (int i = 0; i < 40; ++i) {
    attackers.push_back(std::make_unique<RawFrameSocket>(broker.port));
    RawFrameSocket& a = *attackers.back();
    ASSERT_TRUE(a.connected());
    // Refused as soon as the header is read: later sends may fail.
    a.SendRaw(header + chunk);
    for (int k = 0; k < 3; ++k) a.SendRaw(chunk);
  }
  for (auto& a : attackers) {
    std::optional<v1::Envelope> last;
    while (auto envelope = a->ReadEnvelope(seconds(5))) last = envelope;
    ASSERT_TRUE(last && last->has_error());
    EXPECT_EQ(last->error().code(), v1::Error::PROTOCOL_ERROR);
    EXPECT_NE(last->error().message().find("before its Hello"),
              std::string::npos)
        << last->error().message();
  }
  // Generous: 40 x 4 MiB would be 160 MiB.
  EXPECT_LT(ProcessRssKiB(broker.process->pid()) - rss_before, 32 * 1024);
  TestBrokerClient client(broker.port, "s3cret");
  ASSERT_TRUE(client.WaitConnected());
  ASSERT_TRUE(client.Subscribe({"b"}).ok());
  EXPECT_EQ(*client.Publish("b", std::string(1 << 20, 'y')), 1u);
}

// Issue 19 item 3: connections that never say Hello are bounded in number;
// past --max_pending_handshakes the oldest is closed, so a newcomer that
// says Hello gets in.
TEST(BrokerIntegrationTest, PendingHandshakesShedTheOldest) {
  BrokerProcess broker = BrokerProcess::Start(
      {"--auth_token=s3cret", "--max_pending_handshakes=50"});
  std::vector<std::unique_ptr<RawFrameSocket>> idle;
  for (int i = 0; i < 60; ++i) {
    idle.push_back(std::make_unique<RawFrameSocket>(broker.port));
    ASSERT_TRUE(idle.back()->connected());
  }
  TestBrokerClient client(broker.port, "s3cret");
  ASSERT_TRUE(client.WaitConnected());
  ASSERT_TRUE(client.Subscribe({"p"}).ok());
  // The first ten (the oldest) were told why and closed.
  for (int i = 0; i < 10; ++i) {
    auto error = idle[i]->ReadEnvelope(seconds(5));
    ASSERT_TRUE(error && error->has_error()) << i;
    EXPECT_NE(error->error().message().find("waiting to say Hello"),
              std::string::npos);
  }
  EXPECT_GE(broker.Metric("channel_broker_pending_handshakes_shed_total"), 10);
  EXPECT_LE(broker.Metric("channel_broker_pending_handshakes"), 50);
}

}  // namespace
}  // namespace channel::testing
