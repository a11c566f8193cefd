// channel-broker's lifecycle as a real process: heartbeats and idle
// timeouts, a restart its clients survive, SIGTERM's move-then-close, the
// sole-interest hand-over.
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

}  // namespace
}  // namespace channel::testing
