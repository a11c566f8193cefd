// channel-broker started as a real process on free loopback ports, driven by
// the client library and by raw sockets.
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

std::vector<std::string> Payloads(const std::vector<ReceivedEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.payload);
  return out;
}

TEST(BrokerIntegrationTest, ThreeClientsExactlyOnceSelfIncludedNobodyElse) {
  BrokerProcess broker = BrokerProcess::Start();
  TestBrokerClient a(broker.port), b(broker.port), c(broker.port);
  ASSERT_TRUE(a.WaitConnected());
  ASSERT_TRUE(b.WaitConnected());
  ASSERT_TRUE(c.WaitConnected());
  ASSERT_TRUE(a.Subscribe({"room"}).ok());
  ASSERT_TRUE(a.Subscribe({"room"}).ok());  // twice counts once
  ASSERT_TRUE(b.Subscribe({"room"}).ok());
  ASSERT_TRUE(c.Subscribe({"other"}).ok());

  auto receivers = a.Publish("room", "Esta é a mensagem");
  ASSERT_TRUE(receivers.ok()) << receivers.status();
  EXPECT_EQ(*receivers, 2u);  // a itself and b
  // A marker on c's channel, published after: once c has it, c would have
  // had the room event too had it been (wrongly) sent to c.
  ASSERT_TRUE(b.Publish("other", "marker").ok());

  auto a_events = a.WaitForEvents(1);
  auto b_events = b.WaitForEvents(1);
  auto c_events = c.WaitForEvents(1);
  EXPECT_EQ(Payloads(c_events), std::vector<std::string>{"marker"});
  // A final round trip on a and b to flush anything duplicated.
  ASSERT_TRUE(a.Publish("room", "end").ok());
  a_events = a.WaitForEvents(2);
  b_events = b.WaitForEvents(2);
  EXPECT_EQ(Payloads(a_events),
            (std::vector<std::string>{"Esta é a mensagem", "end"}));
  EXPECT_EQ(Payloads(b_events),
            (std::vector<std::string>{"Esta é a mensagem", "end"}));
  EXPECT_EQ(a_events[0].channel, "room");
  EXPECT_EQ(c.EventCount(), 1u);
}

TEST(BrokerIntegrationTest, MetadataTravelsWithTheEvent) {
  BrokerProcess broker = BrokerProcess::Start();
  TestBrokerClient a(broker.port);
  ASSERT_TRUE(a.WaitConnected());
  ASSERT_TRUE(a.Subscribe({"m"}).ok());
  v1::Metadata meta;
  meta.set_origin("gw-1");
  meta.add_exclude(7);
  ASSERT_TRUE(a.Publish("m", "x", &meta).ok());
  auto events = a.WaitForEvents(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].meta.origin(), "gw-1");
  ASSERT_EQ(events[0].meta.exclude_size(), 1);
  EXPECT_EQ(events[0].meta.exclude(0), 7u);
}

TEST(BrokerIntegrationTest, UnsubscribeStopsDelivery) {
  BrokerProcess broker = BrokerProcess::Start();
  TestBrokerClient a(broker.port), b(broker.port);
  ASSERT_TRUE(a.WaitConnected());
  ASSERT_TRUE(b.WaitConnected());
  ASSERT_TRUE(a.Subscribe({"room"}).ok());
  ASSERT_TRUE(b.Subscribe({"room", "b-only"}).ok());
  ASSERT_TRUE(b.Unsubscribe({"room"}).ok());
  ASSERT_TRUE(b.Unsubscribe({"never-had"}).ok());  // no-op
  EXPECT_EQ(*a.Publish("room", "after"), 1u);
  ASSERT_TRUE(a.Publish("b-only", "marker").ok());
  EXPECT_EQ(Payloads(b.WaitForEvents(1)), std::vector<std::string>{"marker"});
  EXPECT_EQ(Payloads(a.WaitForEvents(1)), std::vector<std::string>{"after"});
}

TEST(BrokerIntegrationTest, DisconnectCleanupVisibleInMetrics) {
  BrokerProcess broker = BrokerProcess::Start();
  auto a = std::make_unique<TestBrokerClient>(broker.port);
  TestBrokerClient b(broker.port);
  ASSERT_TRUE(a->WaitConnected());
  ASSERT_TRUE(b.WaitConnected());
  ASSERT_TRUE(a->Subscribe({"x", "y", "z"}).ok());
  ASSERT_TRUE(b.Subscribe({"z"}).ok());
  EXPECT_EQ(broker.Metric("channel_broker_connections"), 2);
  EXPECT_EQ(broker.Metric("channel_broker_channels"), 3);
  EXPECT_EQ(broker.Metric("channel_broker_subscriptions"), 4);

  size_t from = 0;
  a.reset();  // closes the socket
  ASSERT_TRUE(broker.process->WaitForLine("'test-client'\\) closed",
                                          seconds(10), &from));
  EXPECT_EQ(broker.Metric("channel_broker_connections"), 1);
  EXPECT_EQ(broker.Metric("channel_broker_channels"), 1);  // empty ones gone
  EXPECT_EQ(broker.Metric("channel_broker_subscriptions"), 1);
  EXPECT_EQ(*b.Publish("x", "nobody"), 0u);
}

TEST(BrokerIntegrationTest, OrderPerPublisher) {
  BrokerProcess broker = BrokerProcess::Start();
  TestBrokerClient pub(broker.port), s1(broker.port), s2(broker.port);
  ASSERT_TRUE(pub.WaitConnected());
  ASSERT_TRUE(s1.WaitConnected());
  ASSERT_TRUE(s2.WaitConnected());
  ASSERT_TRUE(s1.Subscribe({"seq"}).ok());
  ASSERT_TRUE(s2.Subscribe({"seq"}).ok());
  constexpr int kCount = 5000;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(pub.PublishNoWait("seq", std::to_string(i)).ok());
  }
  for (TestBrokerClient* s : {&s1, &s2}) {
    auto events = s->WaitForEvents(kCount, seconds(30));
    ASSERT_EQ(events.size(), static_cast<size_t>(kCount));
    for (int i = 0; i < kCount; ++i) {
      ASSERT_EQ(events[i].payload, std::to_string(i));
    }
  }
}

TEST(BrokerIntegrationTest, AuthRequiredWrongTokenAndHelloTimeout) {
  BrokerProcess broker =
      BrokerProcess::Start({"--auth_token=s3cret", "--hello_timeout_ms=300"});
  {
    RawFrameSocket raw(broker.port);
    ASSERT_TRUE(raw.SendHello(""));
    auto reply = raw.ReadEnvelope(seconds(5));
    ASSERT_TRUE(reply && reply->has_error());
    EXPECT_EQ(reply->error().code(), v1::Error::UNAUTHENTICATED);
    EXPECT_EQ(reply->error().message(), "this broker requires an auth token");
    EXPECT_TRUE(raw.WaitForEof(seconds(5)));
  }
  {
    RawFrameSocket raw(broker.port);
    ASSERT_TRUE(raw.SendHello("wrong"));
    auto reply = raw.ReadEnvelope(seconds(5));
    ASSERT_TRUE(reply && reply->has_error());
    EXPECT_EQ(reply->error().code(), v1::Error::UNAUTHENTICATED);
    EXPECT_EQ(reply->error().message(), "wrong auth token");
    EXPECT_TRUE(raw.WaitForEof(seconds(5)));
  }
  {
    RawFrameSocket raw(broker.port);  // says nothing at all
    auto reply = raw.ReadEnvelope(seconds(5));
    ASSERT_TRUE(reply && reply->has_error());
    EXPECT_EQ(reply->error().code(), v1::Error::UNAUTHENTICATED);
    EXPECT_NE(reply->error().message().find("no Hello within 300 ms"),
              std::string::npos);
    EXPECT_TRUE(raw.WaitForEof(seconds(5)));
  }
  {
    RawFrameSocket raw(broker.port);
    ASSERT_TRUE(raw.SendHello("s3cret"));
    auto reply = raw.ReadEnvelope(seconds(5));
    ASSERT_TRUE(reply && reply->has_welcome());
    EXPECT_EQ(reply->welcome().protocol_version(), 1u);
  }
  TestBrokerClient good(broker.port, "s3cret");
  ASSERT_TRUE(good.WaitConnected());
  EXPECT_EQ(broker.Metric("channel_broker_auth_failures_total"), 3);
  // The token never reaches the log.
  EXPECT_EQ(broker.process->Output().find("s3cret"), std::string::npos);
}

TEST(BrokerIntegrationTest, UnsupportedVersionIsRefused) {
  BrokerProcess broker = BrokerProcess::Start();
  RawFrameSocket raw(broker.port);
  ASSERT_TRUE(raw.SendHello("", 2));
  auto reply = raw.ReadEnvelope(seconds(5));
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::Error::VERSION_MISMATCH);
  EXPECT_TRUE(raw.WaitForEof(seconds(5)));
}

struct GarbageCase {
  const char* name;
  std::string bytes;
  const char* kind;
  const char* message_part;
};

void PrintTo(const GarbageCase& c, std::ostream* os) { *os << c.name; }

class BrokerGarbageTest : public ::testing::TestWithParam<GarbageCase> {};

TEST_P(BrokerGarbageTest, OffenderClosedWithErrorOthersUnaffected) {
  const GarbageCase& c = GetParam();
  BrokerProcess broker = BrokerProcess::Start({"--max_frame_bytes=65536"});
  TestBrokerClient a(broker.port), b(broker.port);
  ASSERT_TRUE(a.WaitConnected());
  ASSERT_TRUE(b.WaitConnected());
  ASSERT_TRUE(b.Subscribe({"room"}).ok());

  RawFrameSocket raw(broker.port);
  ASSERT_TRUE(raw.SendHello());
  auto welcome = raw.ReadEnvelope(seconds(5));
  ASSERT_TRUE(welcome && welcome->has_welcome());
  ASSERT_TRUE(raw.SendRaw(c.bytes));
  auto reply = raw.ReadEnvelope(seconds(5));
  ASSERT_TRUE(reply && reply->has_error()) << c.name;
  EXPECT_EQ(reply->error().code(), v1::Error::PROTOCOL_ERROR);
  EXPECT_NE(reply->error().message().find(c.message_part), std::string::npos)
      << reply->error().message();
  EXPECT_TRUE(raw.WaitForEof(seconds(5)));

  EXPECT_EQ(*a.Publish("room", "still fine"), 1u);
  EXPECT_EQ(Payloads(b.WaitForEvents(1)),
            std::vector<std::string>{"still fine"});
  EXPECT_EQ(broker.Metric(std::string("channel_broker_errors_total{kind=\"") +
                          c.kind + "\"}"),
            1);
}

INSTANTIATE_TEST_SUITE_P(
    Inputs, BrokerGarbageTest,
    ::testing::Values(GarbageCase{"length_zero", std::string("\0\0\0\0", 4),
                                  "bad_length", "below the 4-byte minimum"},
                      GarbageCase{"length_three", std::string("\0\0\0\3xyz", 7),
                                  "bad_length", "below the 4-byte minimum"},
                      GarbageCase{"huge_length", "\xff\xff\xff\xffgarbage",
                                  "bad_length", "exceeds the limit of 65536"},
                      GarbageCase{
                          "bad_protobuf",
                          std::string("\0\0\0\x09\xff\xff\xff\xff\xff", 9),
                          "bad_body", "not a valid Envelope"},
                      GarbageCase{"php_body",
                                  std::string("\0\0\0\x23", 4) +
                                      "a:1:{s:4:\"type\";s:7:\"reserve\";}",
                                  "php_codec", "PHP serialize()"}),
    [](const auto& info) { return std::string(info.param.name); });

// Found by the fuzz targets: with `string` fields, every invalid UTF-8 name
// made libprotobuf log an ERROR line, so any client could flood the log.
// Names are bytes now: accepted, routed, and nothing logged.
TEST(BrokerIntegrationTest, NonUtf8ChannelNamesAreBytesAndLogNothing) {
  BrokerProcess broker = BrokerProcess::Start();
  TestBrokerClient a(broker.port);
  ASSERT_TRUE(a.WaitConnected());
  const std::string name("\xff\xfe\xc3(", 4);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(a.Subscribe({name}).ok());
  EXPECT_EQ(*a.Publish(name, "bin"), 1u);
  auto events = a.WaitForEvents(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].channel, name);
  EXPECT_EQ(broker.process->Output().find("libprotobuf"), std::string::npos);
}

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

TEST(BrokerIntegrationTest, IdlePeerGetsHeartbeatsThenTimesOut) {
  BrokerProcess broker = BrokerProcess::Start(
      {"--heartbeat_interval_ms=100", "--idle_timeout_ms=500"});
  RawFrameSocket raw(broker.port);
  ASSERT_TRUE(raw.SendHello());
  auto welcome = raw.ReadEnvelope(seconds(5));
  ASSERT_TRUE(welcome && welcome->has_welcome());
  EXPECT_EQ(welcome->welcome().idle_timeout_ms(), 500u);
  int heartbeats = 0;
  std::optional<v1::Envelope> error;
  while (auto body = raw.ReadFrame(seconds(5))) {
    if (body->empty()) {
      ++heartbeats;
      continue;
    }
    v1::Envelope envelope;
    ASSERT_TRUE(envelope.ParseFromString(*body));
    error = envelope;
    break;
  }
  EXPECT_GE(heartbeats, 1);
  ASSERT_TRUE(error && error->has_error());
  EXPECT_EQ(error->error().code(), v1::Error::IDLE_TIMEOUT);
  EXPECT_TRUE(raw.WaitForEof(seconds(5)));

  // The client library heartbeats, so it stays connected through several
  // idle timeouts; a publish after them still arrives.
  TestBrokerClient client(broker.port);
  ASSERT_TRUE(client.WaitConnected());
  ASSERT_TRUE(client.Subscribe({"k"}).ok());
  size_t from = 0;
  for (int i = 0; i < 3; ++i) {
    // Three further idle timeouts of other raw peers pass meanwhile.
    RawFrameSocket idle(broker.port);
    ASSERT_TRUE(idle.SendHello());
    ASSERT_TRUE(idle.WaitForEof(seconds(5)));
    ASSERT_TRUE(broker.process->WaitForLine("nothing received for 500 ms",
                                            seconds(5), &from));
  }
  EXPECT_EQ(*client.Publish("k", "alive"), 1u);
  EXPECT_EQ(client.WaitForEvents(1).size(), 1u);
}

TEST(BrokerIntegrationTest, RestartClientReconnectsAndResubscribes) {
  BrokerProcess broker = BrokerProcess::Start();
  const int port = broker.port;
  TestBrokerClient sub(port), pub(port);
  ASSERT_TRUE(sub.WaitConnected());
  ASSERT_TRUE(pub.WaitConnected());
  ASSERT_TRUE(sub.Subscribe({"r1", "r2"}).ok());
  EXPECT_EQ(*pub.Publish("r1", "before"), 1u);

  broker.process->Signal(SIGKILL);
  ASSERT_TRUE(broker.process->Wait(seconds(10)));
  ASSERT_TRUE(sub.WaitDisconnected());
  // While down, publishing is an error, not a silent loss.
  ASSERT_TRUE(pub.WaitDisconnected());
  EXPECT_TRUE(absl::IsUnavailable(pub.PublishNoWait("r1", "lost?")));

  BrokerProcess again = BrokerProcess::Start({}, port);
  ASSERT_TRUE(sub.WaitConnected(2));  // re-subscribed, acknowledged
  ASSERT_TRUE(pub.WaitConnected(2));
  EXPECT_EQ(*pub.Publish("r2", "after"), 1u);
  EXPECT_EQ(Payloads(sub.WaitForEvents(2)),
            (std::vector<std::string>{"before", "after"}));
  EXPECT_EQ(again.Metric("channel_broker_subscriptions"), 2);
}

// SIGTERM drains: not ready, no new connections, each client asked to move
// (GoAway, saying when the broker will close it) spread over --drain_ms;
// whoever stays is closed with SHUTTING_DOWN after --shutdown_grace_ms;
// exit 0. A client that leaves at once lets the broker exit early.
TEST(BrokerIntegrationTest, SigtermAsksClientsToMoveThenClosesThem) {
  BrokerProcess broker =
      BrokerProcess::Start({"--drain_ms=200", "--shutdown_grace_ms=5000"});
  RawFrameSocket stays(broker.port);
  ASSERT_TRUE(stays.SendHello());
  ASSERT_TRUE(stays.ReadEnvelope(seconds(5)));
  EXPECT_EQ(HttpGet(broker.admin_port, "/readyz").status, 200);
  EXPECT_EQ(HttpGet(broker.admin_port, "/healthz").status, 200);
  broker.process->Signal(SIGTERM);
  auto go_away = stays.ReadEnvelope(seconds(5));
  ASSERT_TRUE(go_away && go_away->has_go_away()) << go_away->DebugString();
  EXPECT_GT(go_away->go_away().close_in_ms(), 0u);
  EXPECT_LE(go_away->go_away().close_in_ms(), 5200u);
  EXPECT_EQ(HttpGet(broker.admin_port, "/readyz").status, 503);
  // The link still works while it drains.
  v1::Envelope subscribe;
  subscribe.mutable_subscribe()->add_channels("c");
  subscribe.mutable_subscribe()->set_request_id(7);
  ASSERT_TRUE(stays.SendEnvelope(subscribe));
  auto ack = stays.ReadEnvelope(seconds(5));
  ASSERT_TRUE(ack && ack->has_ack()) << ack->DebugString();
  EXPECT_EQ(ack->ack().request_id(), 7u);
  auto reply = stays.ReadEnvelope(seconds(10));
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::Error::SHUTTING_DOWN);
  EXPECT_EQ(broker.process->Wait(seconds(10)), 0);
}

TEST(BrokerIntegrationTest, SigtermExitsOnceEveryClientHasMoved) {
  // A grace far longer than the test: the broker can only exit early
  // because its clients left when asked.
  BrokerProcess broker =
      BrokerProcess::Start({"--drain_ms=100", "--shutdown_grace_ms=600000"});
  std::vector<std::unique_ptr<RawFrameSocket>> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(std::make_unique<RawFrameSocket>(broker.port));
    ASSERT_TRUE(clients.back()->SendHello());
    ASSERT_TRUE(clients.back()->ReadEnvelope(seconds(5)));
  }
  broker.process->Signal(SIGTERM);
  for (auto& client : clients) {
    auto go_away = client->ReadEnvelope(seconds(5));
    ASSERT_TRUE(go_away && go_away->has_go_away());
    client.reset();  // moved away
  }
  EXPECT_EQ(broker.process->Wait(seconds(10)), 0);
  EXPECT_TRUE(broker.process->Output().find("draining: asking 5 connection") !=
              std::string::npos)
      << broker.process->Output();
}

// Sole interest over the wire: the only subscriber that asked is granted
// the channel; a second subscriber's Subscribe is acknowledged only after
// the holder released it (a later PresenceQuery is answered first), and a
// holder that never releases is closed after --sole_release_timeout_ms.
v1::Envelope SoleHello() {
  v1::Envelope hello;
  hello.mutable_hello()->set_protocol_version(1);
  hello.mutable_hello()->set_sole_interest(true);
  return hello;
}

v1::Envelope SubscribeRequest(const std::string& channel, uint64_t id) {
  v1::Envelope subscribe;
  subscribe.mutable_subscribe()->add_channels(channel);
  subscribe.mutable_subscribe()->set_request_id(id);
  return subscribe;
}

TEST(BrokerIntegrationTest, SoleInterestHandOverHoldsTheNewcomersAck) {
  BrokerProcess broker =
      BrokerProcess::Start({"--sole_release_timeout_ms=300"});
  RawFrameSocket holder(broker.port);
  ASSERT_TRUE(holder.SendEnvelope(SoleHello()));
  ASSERT_TRUE(holder.ReadEnvelope(seconds(5)));  // Welcome
  ASSERT_TRUE(holder.SendEnvelope(SubscribeRequest("g", 1)));
  auto grant = holder.ReadEnvelope(seconds(5));
  ASSERT_TRUE(grant && grant->has_interest()) << grant->DebugString();
  EXPECT_EQ(grant->interest().channel(), "g");
  EXPECT_TRUE(grant->interest().sole());
  auto ack = holder.ReadEnvelope(seconds(5));
  ASSERT_TRUE(ack && ack->has_ack());
  EXPECT_EQ(broker.Metric("channel_broker_sole_grants"), 1);

  // A newcomer that did not ask for grants: its Ack waits for the release.
  RawFrameSocket newcomer(broker.port);
  ASSERT_TRUE(newcomer.SendHello());
  ASSERT_TRUE(newcomer.ReadEnvelope(seconds(5)));  // Welcome
  ASSERT_TRUE(newcomer.SendEnvelope(SubscribeRequest("g", 7)));
  auto revoke = holder.ReadEnvelope(seconds(5));
  ASSERT_TRUE(revoke && revoke->has_interest()) << revoke->DebugString();
  EXPECT_FALSE(revoke->interest().sole());
  EXPECT_EQ(revoke->interest().grant(), grant->interest().grant());
  v1::Envelope query;
  query.mutable_presence_query()->set_group("x");
  query.mutable_presence_query()->set_request_id(8);
  ASSERT_TRUE(newcomer.SendEnvelope(query));
  auto first = newcomer.ReadEnvelope(seconds(5));
  ASSERT_TRUE(first && first->has_presence_info()) << first->DebugString();
  // The holder releases: now the newcomer is subscribed.
  v1::Envelope release;
  release.mutable_interest()->set_channel("g");
  release.mutable_interest()->set_grant(revoke->interest().grant());
  ASSERT_TRUE(holder.SendEnvelope(release));
  auto late_ack = newcomer.ReadEnvelope(seconds(5));
  ASSERT_TRUE(late_ack && late_ack->has_ack()) << late_ack->DebugString();
  EXPECT_EQ(late_ack->ack().request_id(), 7u);

  // A second channel whose holder never answers its revoke: closed.
  ASSERT_TRUE(holder.SendEnvelope(SubscribeRequest("h", 2)));
  auto grant_h = holder.ReadEnvelope(seconds(5));
  ASSERT_TRUE(grant_h && grant_h->has_interest() && grant_h->interest().sole());
  ASSERT_TRUE(holder.ReadEnvelope(seconds(5)));  // Ack 2
  ASSERT_TRUE(newcomer.SendEnvelope(SubscribeRequest("h", 9)));
  auto revoke_h = holder.ReadEnvelope(seconds(5));
  ASSERT_TRUE(revoke_h && revoke_h->has_interest());
  auto closed = holder.ReadEnvelope(seconds(10));
  ASSERT_TRUE(closed && closed->has_error()) << closed->DebugString();
  EXPECT_EQ(closed->error().code(), v1::Error::PROTOCOL_ERROR);
  EXPECT_NE(closed->error().message().find("not released"), std::string::npos);
  auto ack_h = newcomer.ReadEnvelope(seconds(5));
  ASSERT_TRUE(ack_h && ack_h->has_ack());
  EXPECT_EQ(ack_h->ack().request_id(), 9u);
  EXPECT_EQ(broker.Metric("channel_broker_sole_revokes_total"), 2);
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
