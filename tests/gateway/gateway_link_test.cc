// A gateway worker's broker link under pressure (issue 19): one large
// publish, a gateway that stops reading, a broker restart, more groups than
// one connection's channel limit, refused joins. Real processes; every
// check is what a member or a bystander sees.
#include <signal.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/gateway/gateway_fixture.h"
#include "tests/support/clients/test_broker_client.h"
#include "tests/support/clients/ws_test_clients.h"

namespace channel::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string JoinNoId(const std::string& group) {
  return absl::StrCat(R"({"cmd":"add_group","group_id":")", group, R"("})");
}
// The messages of `got` that are deliveries (no reply, error or notice).
std::vector<std::string> LinkDeliveries(const std::vector<std::string>& got) {
  std::vector<std::string> out;
  for (const auto& m : got) {
    if (m.rfind("{\"id\"", 0) != 0 && m.rfind("{\"error\"", 0) != 0 &&
        m.rfind("{\"type\":\"gap\"", 0) != 0) {
      out.push_back(m);
    }
  }
  return out;
}

// Item 2: one publish to 1,000 groups of 40 KB, every group with a member
// on one gateway worker. It used to be routed (200 ok) and then cut that
// worker's link as a slow consumer: the members got none of it and a
// bystander group on the same worker lost messages. Now it is refused
// whole, before anything is delivered, and the link never drops.
TEST(GatewayLinkTest, OneLargePublishIsRefusedWholeAndTheLinkKeepsItsMembers) {
  BrokerProcess broker = BrokerProcess::Start();
  GatewayProcess gw = GatewayProcess::Start(broker.port, kNoRateLimit);
  WsTestClients ws;
  const int member = ws.Connect(gw.uri());
  const int bystander = ws.Connect(gw.uri());
  ASSERT_GE(member, 0);
  ASSERT_GE(bystander, 0);
  std::vector<std::string> channels;
  for (int i = 0; i < 1000; ++i) {
    const std::string group = absl::StrCat("g", i);
    channels.push_back("group:" + group);
    // Joins are subscribed in order on the one link: the last one's ok
    // means every one is live.
    ASSERT_TRUE(ws.Send(member, i < 999 ? JoinNoId(group) : Join(group, 1)));
  }
  ASSERT_EQ(ws.WaitForMessages(member, 1).at(0), Ok(1));
  ASSERT_EQ(ws.Request(bystander, Join("quiet", 2), "2"), Ok(2));

  TestBrokerClient pub(broker.port);
  ASSERT_TRUE(pub.WaitConnected());
  std::vector<std::string> stream;
  for (int i = 0; i < 100; ++i) {
    stream.push_back(absl::StrCat("q", i));
    ASSERT_TRUE(pub.Publish("group:quiet", stream.back()).ok());
    if (i == 50) {
      const auto big = pub.PublishMany(channels, std::string(40000, 'x'));
      ASSERT_FALSE(big.ok());
      EXPECT_TRUE(absl::IsResourceExhausted(big.status())) << big.status();
      EXPECT_TRUE(
          Has(std::string(big.status().message()), "max_publish_fanout_bytes"))
          << big.status();
    }
  }
  const auto got = ws.WaitForMessages(bystander, 1 + stream.size());
  EXPECT_EQ(LinkDeliveries(got), stream);
  EXPECT_TRUE(LinkDeliveries(ws.Messages(member)).empty());
  EXPECT_EQ(broker.Metric("channel_broker_slow_consumer_disconnects_total"), 0);
  EXPECT_EQ(gw.Metric("channel_gateway_broker_disconnects_total"), 0);
  EXPECT_EQ(
      broker.Metric(
          R"(channel_broker_publishes_refused_total{reason="too_large"})"),
      1);
}

// Publishes of 1 MB to a group whose only gateway stopped reading (SIGSTOP)
// until the broker refuses one. Returns how many were acknowledged; *refusal
// gets the refusal.
int PublishUntilRefused(TestBrokerClient& pub, const std::string& channel,
                        absl::Status* refusal) {
  const std::string payload(1 << 20, 'p');
  for (int i = 0; i < 200; ++i) {
    const auto r = pub.Publish(channel, absl::StrCat(i, ":") + payload);
    if (!r.ok()) {
      *refusal = r.status();
      return i;
    }
  }
  return -1;
}

// Item 2: a gateway that stops reading fills its link's queue; publishes
// past it are refused to the publisher (BACKPRESSURE), the link is not cut,
// and once the gateway reads again its member gets every acknowledged
// message, with no gap.
TEST(GatewayLinkTest, FullLinkRefusesThePublisherAndLosesNothing) {
  BrokerProcess broker = BrokerProcess::Start({"--max_queued_bytes=8388608"});
  GatewayProcess gw = GatewayProcess::Start(
      broker.port,
      {"--max_queued_bytes=268435456", "--max_message_bytes=2000000"});
  WsTestClients ws;
  const int member = ws.Connect(gw.uri());
  ASSERT_GE(member, 0);
  ASSERT_EQ(ws.Request(member, Join("s", 1), "1"), Ok(1));
  TestBrokerClient pub(broker.port);
  ASSERT_TRUE(pub.WaitConnected());

  gw.process->Signal(SIGSTOP);
  absl::Status refusal;
  const int acked = PublishUntilRefused(pub, "group:s", &refusal);
  gw.process->Signal(SIGCONT);
  ASSERT_GT(acked, 0) << refusal;
  EXPECT_TRUE(absl::IsAborted(refusal)) << refusal;
  EXPECT_TRUE(Has(std::string(refusal.message()), "BACKPRESSURE")) << refusal;

  const auto got = ws.WaitForMessages(member, 1 + acked, seconds(60));
  const auto delivered = LinkDeliveries(got);
  ASSERT_EQ(delivered.size(), static_cast<size_t>(acked));
  for (int i = 0; i < acked; ++i) {
    EXPECT_EQ(delivered[i].substr(0, delivered[i].find(':')),
              std::to_string(i));
  }
  EXPECT_EQ(broker.Metric("channel_broker_slow_consumer_disconnects_total"), 0);
  EXPECT_EQ(gw.Metric("channel_gateway_broker_disconnects_total"), 0);
  EXPECT_EQ(gw.Metric("channel_gateway_gap_notices_total"), 0);
}

// Item 2: a link that stays full without writing anything for
// --link_stall_timeout_ms is closed at the next refused publish; its
// gateway re-links and tells its member that messages may be missing.
TEST(GatewayLinkTest, StalledLinkIsClosedAndItsMembersAreTold) {
  BrokerProcess broker = BrokerProcess::Start(
      {"--max_queued_bytes=8388608", "--link_stall_timeout_ms=300"});
  GatewayProcess gw = GatewayProcess::Start(
      broker.port,
      {"--max_queued_bytes=268435456", "--max_message_bytes=2000000"});
  WsTestClients ws;
  const int member = ws.Connect(gw.uri() + "/?format=json");
  ASSERT_GE(member, 0);
  ASSERT_EQ(ws.Request(member, Join("s", 1), "1"), Ok(1));
  TestBrokerClient pub(broker.port);
  ASSERT_TRUE(pub.WaitConnected());

  gw.process->Signal(SIGSTOP);
  absl::Status refusal;
  ASSERT_GT(PublishUntilRefused(pub, "group:s", &refusal), 0) << refusal;
  // Retry, as a publisher would, until the stall is past (bounded).
  size_t from = 0;
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) {
    pub.Publish("group:s", std::string(1 << 20, 'r')).IgnoreError();
    closed = broker.process
                 ->WaitForLine("link wrote nothing for 300 ms",
                               milliseconds(100), &from)
                 .has_value();
  }
  gw.process->Signal(SIGCONT);
  ASSERT_TRUE(closed) << broker.process->Output();
  // What was in flight arrives first, then the notice.
  bool told = false;
  for (size_t n = 2; !told && n < 400;) {
    const auto got = ws.WaitForMessages(member, n, seconds(30));
    if (got.size() < n) break;
    told = std::any_of(got.begin(), got.end(), [](const std::string& m) {
      return m.rfind(R"({"type":"gap")", 0) == 0;
    });
    n = got.size() + 1;
  }
  EXPECT_TRUE(told) << absl::StrJoin(ws.Messages(member), "\n").substr(0, 2000);
}

// Item 6: the broker is SIGKILLed and restarted while a sender on one
// gateway streams to members on another. Every message the sender was told
// ok about reaches both members, and both are told that they may have
// missed messages (gap), in both framings.
TEST(GatewayLinkTest, BrokerRestartNeverAcksWhatMembersMiss) {
  BrokerProcess broker = BrokerProcess::Start();
  const int port = broker.port;
  GatewayProcess members_gw = GatewayProcess::Start(port);
  GatewayProcess sender_gw = GatewayProcess::Start(port, kNoRateLimit);
  WsTestClients ws;
  const int json = ws.Connect(members_gw.uri() + "/?format=json");
  const int plain = ws.Connect(members_gw.uri());
  const int sender = ws.Connect(sender_gw.uri());
  // A member on the sender's own gateway worker: it gets a send only once
  // the broker accepted it, so refused attempts that the sender retries
  // never reach it twice.
  const int local = ws.Connect(sender_gw.uri());
  ASSERT_EQ(ws.Request(json, Join("r", 1), "1"), Ok(1));
  ASSERT_EQ(ws.Request(plain, Join("r", 1), "1"), Ok(1));
  ASSERT_EQ(ws.Request(local, Join("r", 1), "1"), Ok(1));

  size_t from_m = 0, from_s = 0;
  broker.process->Signal(SIGKILL);
  ASSERT_TRUE(broker.process->Wait(seconds(10)));
  ASSERT_TRUE(members_gw.process->WaitForLine("broker link down", seconds(10),
                                              &from_m));
  ASSERT_TRUE(
      sender_gw.process->WaitForLine("broker link down", seconds(10), &from_s));
  BrokerProcess again =
      BrokerProcess::Start({"--resubscribe_grace_ms=8000"}, port);

  // The sender sends with ids until 30 were acknowledged, pacing its
  // retries by 50 ms as a client would (bounded: 30 s).
  std::vector<std::string> acked;
  int refused_busy = 0, refused_down = 0;
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  for (int id = 10;
       acked.size() < 30 && std::chrono::steady_clock::now() < deadline; ++id) {
    const std::string text = absl::StrCat("m", id);
    const std::string reply = ws.Request(
        sender,
        absl::StrCat(R"({"cmd":"send_to_group","group_id":"r","message":")",
                     text, R"(","id":)", id, "}"),
        std::to_string(id));
    if (reply == Ok(id)) {
      acked.push_back(text);
      continue;
    }
    ASSERT_TRUE(Has(reply, "backpressure") || Has(reply, "broker_unavailable"))
        << reply;
    (Has(reply, "backpressure") ? refused_busy : refused_down)++;
    ws.WaitForMessages(sender, ws.MessageCount(sender) + 1, milliseconds(50));
  }
  ASSERT_EQ(acked.size(), 30u);
  // The members' gateway re-linked within the grace: the broker held the
  // sender's publishes back meanwhile.
  EXPECT_GE(refused_busy, 1) << again.process->Output();
  std::vector<std::string> acked_json;
  for (const std::string& m : acked) {
    acked_json.push_back(absl::StrCat(
        R"({"type":"message","group":"r","message":")", m, R"("})"));
  }
  for (int c : {json, plain}) {
    const auto got = ws.WaitForMessages(c, 2 + acked.size(), seconds(20));
    ASSERT_EQ(got.size(), 2 + acked.size()) << "client " << c;
    EXPECT_TRUE(Has(got[1], c == json ? R"({"type":"gap")" : R"("code":"gap")"))
        << got[1];
    EXPECT_EQ(LinkDeliveries(got), c == json ? acked_json : acked)
        << "client " << c;
  }
  const auto local_got = ws.WaitForMessages(local, 2 + acked.size());
  EXPECT_EQ(LinkDeliveries(local_got), acked);
  EXPECT_GE(
      again.Metric(
          R"(channel_broker_publishes_refused_total{reason="restarting"})"),
      1);
}

// A storm of joins to one group while its Subscribe is in flight (the
// broker frozen, so it stays in flight): the worker sends one Subscribe, and
// its Ack answers every joiner; each then gets what is published.
TEST(GatewayLinkTest, JoinsWhileTheSubscribeIsInFlightShareItsAck) {
  BrokerProcess broker = BrokerProcess::Start();
  GatewayProcess gw = GatewayProcess::Start(broker.port, kNoRateLimit);
  WsTestClients ws;
  constexpr int kJoiners = 40;
  std::vector<int> joiners;
  for (int i = 0; i < kJoiners; ++i) {
    const int c = ws.Connect(gw.uri());
    ASSERT_GE(c, 0);
    joiners.push_back(c);
  }
  const double frames = broker.Metric("channel_broker_frames_received_total");
  broker.process->Signal(SIGSTOP);
  for (int c : joiners) ASSERT_TRUE(ws.Send(c, Join("storm", 1)));
  // Every joiner is a member here before the broker answers any of them.
  const double joins = gw.WaitMetric("channel_gateway_joins_total", kJoiners);
  broker.process->Signal(SIGCONT);
  ASSERT_EQ(joins, kJoiners);
  for (int c : joiners) {
    const auto got = ws.WaitForMessages(c, 1);
    ASSERT_EQ(got.size(), 1u) << "joiner " << c;
    EXPECT_EQ(got[0], Ok(1));
  }
  // One Subscribe for the forty (besides it, at most a heartbeat; one
  // Subscribe per joiner would be forty frames).
  EXPECT_LE(broker.Metric("channel_broker_frames_received_total") - frames, 3);
  TestBrokerClient pub(broker.port);
  ASSERT_TRUE(pub.WaitConnected());
  const auto sent = pub.Publish("group:storm", "after the storm");
  ASSERT_TRUE(sent.ok()) << sent.status();
  for (int c : joiners) {
    const auto got = ws.WaitForMessages(c, 2);
    ASSERT_EQ(got.size(), 2u) << "joiner " << c;
    EXPECT_EQ(got[1], "after the storm");
  }
}

// Item 8: a worker's link holds every group of its users, beyond one
// connection's channel limit, and a broker restart re-subscribes exactly
// what was held.
TEST(GatewayLinkTest, LinkHoldsMoreThanAConnectionAndResubscribesAll) {
  const std::vector<std::string> flags = {"--max_channels_per_connection=100"};
  BrokerProcess broker = BrokerProcess::Start(flags);
  const int port = broker.port;
  GatewayProcess gw = GatewayProcess::Start(port, kNoRateLimit);
  WsTestClients ws;
  const int member = ws.Connect(gw.uri());
  ASSERT_GE(member, 0);
  constexpr int kGroups = 300;
  std::vector<std::string> channels;
  for (int i = 0; i < kGroups; ++i) {
    const std::string group = absl::StrCat("h", i);
    channels.push_back("group:" + group);
    ASSERT_TRUE(
        ws.Send(member, i < kGroups - 1 ? JoinNoId(group) : Join(group, 1)));
  }
  const auto acks = ws.WaitForMessages(member, 1);
  ASSERT_EQ(acks.size(), 1u);
  ASSERT_EQ(acks[0], Ok(1));

  size_t from = 0;
  broker.process->Signal(SIGKILL);
  ASSERT_TRUE(broker.process->Wait(seconds(10)));
  ASSERT_TRUE(gw.process->WaitForLine("broker link down", seconds(10), &from));
  BrokerProcess again = BrokerProcess::Start(flags, port);
  ASSERT_TRUE(gw.process->WaitForLine(
      absl::StrCat("broker link up; ", kGroups, " group"), seconds(20), &from));
  // "all", the worker's node channel, the groups.
  EXPECT_EQ(again.Metric("channel_broker_subscriptions"), 2 + kGroups);
  TestBrokerClient pub(port);
  ASSERT_TRUE(pub.WaitConnected());
  const auto sent = pub.PublishMany(channels, "to-all-300");
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(*sent, static_cast<uint64_t>(kGroups));
  const auto got = ws.WaitForMessages(member, 2 + kGroups);
  EXPECT_EQ(LinkDeliveries(got).size(), static_cast<size_t>(kGroups));
}

// Items 8, 9, 11: joins the broker refuses (the link is at its channel
// limit) get a precise error, with or without an id, and make no member:
// a refused socket receives nothing of the group even once others could
// join it.
TEST(GatewayLinkTest, RefusedJoinIsToldAndMakesNoMember) {
  // The link holds "all", its node channel and four groups.
  BrokerProcess broker = BrokerProcess::Start({"--max_channels_per_link=6"});
  GatewayProcess gw = GatewayProcess::Start(broker.port);
  WsTestClients ws;
  const int a = ws.Connect(gw.uri());
  const int b = ws.Connect(gw.uri());
  const int c = ws.Connect(gw.uri());
  for (int i = 1; i <= 4; ++i) {
    ASSERT_EQ(ws.Request(a, Join(absl::StrCat("a", i), i), std::to_string(i)),
              Ok(i));
  }
  const std::string refused = ws.Request(a, Join("x", 5), "5");
  EXPECT_TRUE(Has(refused, R"("code":"join_refused")")) << refused;
  EXPECT_TRUE(Has(refused, "limit per link")) << refused;
  ASSERT_TRUE(ws.Send(b, JoinNoId("x")));  // no id: still told
  const auto told = ws.WaitForMessages(b, 1);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_TRUE(Has(told[0], R"("code":"join_refused")")) << told[0];
  EXPECT_TRUE(Has(told[0], R"(add_group \"x\")")) << told[0];

  // Room again: c joins x for real; a and b, refused, must not receive.
  ASSERT_EQ(
      ws.Request(a, R"({"cmd":"leave_group","group_id":"a1","id":6})", "6"),
      Ok(6));
  ASSERT_EQ(ws.Request(c, Join("x", 7), "7"), Ok(7));
  TestBrokerClient pub(broker.port);
  ASSERT_TRUE(pub.WaitConnected());
  ASSERT_TRUE(pub.Publish("group:x", "for-x").ok());
  ASSERT_TRUE(pub.Publish("group:a2", "for-a2").ok());
  EXPECT_EQ(LinkDeliveries(ws.WaitForMessages(c, 2)),
            std::vector<std::string>{"for-x"});
  // a's next delivery is a2's: x's came first on the same link, so it
  // would be here by now if a were a member.
  const auto got_a = ws.WaitForMessages(a, 7);
  EXPECT_EQ(LinkDeliveries(got_a), std::vector<std::string>{"for-a2"});
  EXPECT_TRUE(LinkDeliveries(ws.Messages(b)).empty());
}

// Item 11: 990 joins the broker refuses, from one client (under its limit
// of 1,000 groups, which a member holds until the refusal comes back),
// within a second or so: each is reported to the client (no id needed),
// but the gateway's log gets a bounded number of lines; the metric counts
// the rest.
TEST(GatewayLinkTest, RefusalFloodIsToldToTheClientNotToTheLog) {
  // Room for "all" and the worker's node channel only.
  BrokerProcess broker = BrokerProcess::Start({"--max_channels_per_link=2"});
  GatewayProcess gw = GatewayProcess::Start(broker.port, kNoRateLimit);
  WsTestClients ws;
  const int c = ws.Connect(gw.uri());
  ASSERT_GE(c, 0);
  constexpr int kJoins = 990;
  for (int i = 0; i < kJoins; ++i) {
    ASSERT_TRUE(ws.Send(c, JoinNoId(absl::StrCat("f", i))));
  }
  const auto got = ws.WaitForMessages(c, kJoins, seconds(60));
  ASSERT_EQ(got.size(), static_cast<size_t>(kJoins));
  for (const auto& m : got) ASSERT_TRUE(Has(m, "join_refused")) << m;
  const std::string log = gw.process->Output();
  size_t lines = 0;
  for (size_t at = log.find("the broker refused channel");
       at != std::string::npos;
       at = log.find("the broker refused channel", at + 1)) {
    ++lines;
  }
  // 20 per second per site: the whole flood takes seconds, not minutes.
  EXPECT_LT(lines, 400u);
  EXPECT_GE(gw.Metric("channel_gateway_log_lines_suppressed_total"),
            kJoins - lines);
}

}  // namespace
}  // namespace channel::testing
