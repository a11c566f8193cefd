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

}  // namespace
}  // namespace channel::testing
