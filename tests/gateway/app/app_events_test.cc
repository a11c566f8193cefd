// The application's seat end to end (issue 22): real broker and gateways,
// backends as broker clients in a queue group. Every event kind with its
// fields and order; custom commands answered by the backend, no_backend,
// backend_timeout; two backends sharing connections, one killed (actions,
// decided joins and impostors: app_actions_test.cc; webhooks:
// app_webhook_test.cc).
#include <csignal>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/gateway/app/app_events_fixture.h"

namespace channel::testing {
namespace {

using std::chrono::seconds;

TEST_F(AppEventsTest, EveryEventKindArrivesWithItsFieldsInOrder) {
  GatewayProcess gw =
      Gateway({"--event_headers=X-Team", "--event_cookies=sid"});
  auto backend = Backend();
  const int c =
      ws_.Connect(gw.uri() + "/chat?room=1",
                  {{"X-Team", "blue"}, {"Cookie", "theme=dark; sid=abc123"}});
  ASSERT_GE(c, 0);
  const std::string me = Whoami(c);
  ASSERT_FALSE(me.empty());
  EXPECT_EQ(
      ws_.Request(c, R"({"cmd":"add_group","group_id":"g1","id":1})", "1"),
      R"({"id":1,"ok":true})");
  ASSERT_TRUE(ws_.Send(c, R"({"cmd":"typing","on":true})"));
  EXPECT_EQ(
      ws_.Request(c, R"({"cmd":"leave_group","group_id":"g1","id":2})", "2"),
      R"({"id":2,"ok":true})");
  ASSERT_TRUE(ws_.Send(c, R"({"cmd":"add_group","group_id":"g2"})"));
  ws_.Close(c);
  const std::vector<std::string> events = EventsOf(*backend, me, "close", 6);
  ASSERT_EQ(events.size(), 6u) << ::testing::PrintToString(events);
  const AppJson connect(events[0]);
  EXPECT_EQ(connect.Str("type"), "connect");
  EXPECT_TRUE(absl::StartsWith(connect.Str("address"), "127.0.0.1:"));
  EXPECT_EQ(connect.Str("path"), "/chat");
  EXPECT_EQ(connect.Str("query"), "");  // --event_query is off
  EXPECT_GT(connect.Num("time_ms"), 1700000000000u);
  ASSERT_TRUE(connect.doc["headers"].IsObject());
  EXPECT_STREQ(connect.doc["headers"]["X-Team"].GetString(), "blue");
  EXPECT_STREQ(connect.doc["cookies"]["sid"].GetString(), "abc123");
  EXPECT_FALSE(connect.doc["cookies"].HasMember("theme"));
  EXPECT_EQ(AppJson(events[1]).Str("type"), "join");
  EXPECT_EQ(AppJson(events[1]).Str("group"), "g1");
  const AppJson message(events[2]);
  EXPECT_EQ(message.Str("type"), "message");
  EXPECT_EQ(message.Num("request"), 0u);  // no id: no answer expected
  ASSERT_TRUE(message.doc["command"].IsObject());
  EXPECT_STREQ(message.doc["command"]["cmd"].GetString(), "typing");
  EXPECT_TRUE(message.doc["command"]["on"].GetBool());
  EXPECT_EQ(AppJson(events[3]).Str("type"), "leave");
  EXPECT_EQ(AppJson(events[4]).Str("group"), "g2");
  const AppJson close(events[5]);
  EXPECT_EQ(close.Num("code"), 1000u);
  ASSERT_TRUE(close.doc["groups"].IsArray());
  ASSERT_EQ(close.doc["groups"].Size(), 1u);
  EXPECT_STREQ(close.doc["groups"][0].GetString(), "g2");
  // Each carried the connection's id as its key, and the close ended it.
  for (const ReceivedEvent& e : backend->Events()) {
    const AppJson j(e.payload);
    EXPECT_EQ(e.meta.key(), j.Str("client").empty()
                                ? "group:" + j.Str("group")  // occupancy
                                : j.Str("client"));
  }
  // Occupancy is reported in batches: a group joined and left within one
  // is never occupied. Each one that was occupied is vacated by now or
  // soon (keyed "group:G", ended by the vacated); then no key is bound any
  // more: the close ended the connection's binding.
  for (int more = 0; more < 10; ++more) {
    int open_groups = 0;
    for (const ReceivedEvent& e : backend->Events()) {
      const std::string type = AppJson(e.payload).Str("type");
      open_groups += type == "occupied" ? 1 : type == "vacated" ? -1 : 0;
    }
    if (open_groups == 0) break;
    backend->WaitForEvents(backend->EventCount() + 1);
  }
  EXPECT_EQ(broker_.Metric("channel_broker_queue_bindings"), 0);
}

// A group's first member anywhere and its last one gone, once each, over
// two gateways (the broker sums their presence reports).
TEST_F(AppEventsTest, GroupsAreOccupiedAndVacatedOnceAcrossGateways) {
  GatewayProcess gw1 = Gateway();
  GatewayProcess gw2 = Gateway();
  auto backend = Backend();
  const int a = ws_.Connect(gw1.uri());
  const int b = ws_.Connect(gw2.uri());
  ASSERT_EQ(
      ws_.Request(a, R"({"cmd":"add_group","group_id":"room","id":1})", "1"),
      R"({"id":1,"ok":true})");
  ASSERT_EQ(
      ws_.Request(b, R"({"cmd":"add_group","group_id":"room","id":1})", "1"),
      R"({"id":1,"ok":true})");
  auto occupancy = [&](size_t want) {
    std::vector<std::string> seen;
    for (int i = 0; i < 100 && seen.size() < want; ++i) {
      seen.clear();
      for (const ReceivedEvent& e : backend->WaitForEvents(
               backend->EventCount() + 1, std::chrono::milliseconds(100))) {
        const AppJson j(e.payload);
        if (j.Str("group") == "room" &&
            (j.Str("type") == "occupied" || j.Str("type") == "vacated")) {
          seen.push_back(j.Str("type"));
          EXPECT_EQ(e.meta.key(), "group:room");
        }
      }
    }
    return seen;
  };
  EXPECT_EQ(occupancy(1), std::vector<std::string>{"occupied"});
  ws_.Close(a);
  ASSERT_EQ(
      ws_.Request(b, R"({"cmd":"leave_group","group_id":"room","id":2})", "2"),
      R"({"id":2,"ok":true})");
  EXPECT_EQ(occupancy(2), (std::vector<std::string>{"occupied", "vacated"}));
}

TEST_F(AppEventsTest, CustomCommandsAreAnsweredOnceByTheBackendOrTheGateway) {
  GatewayProcess gw = Gateway({"--backend_timeout_ms=400"});
  const int c = ws_.Connect(gw.uri());
  ASSERT_GE(c, 0);
  // No consumer: never silence.
  const std::string none =
      ws_.Request(c, R"({"cmd":"chat","text":"hi","id":1})", "1");
  EXPECT_TRUE(absl::StrContains(none, R"("code":"no_backend")")) << none;
  ASSERT_TRUE(ws_.Send(c, R"({"cmd":"chat","text":"no id"})"));
  const std::vector<std::string> told = ws_.WaitForMessages(c, 2);
  ASSERT_EQ(told.size(), 2u);
  EXPECT_TRUE(absl::StrContains(told[1], "no_backend")) << told[1];

  auto backend = Backend();
  const std::string me = Whoami(c);
  ASSERT_TRUE(ws_.Send(c, R"({"cmd":"chat","text":"hi","id":7})"));
  std::vector<ReceivedEvent> events = backend->WaitForEvents(1);
  ASSERT_EQ(events.size(), 1u);
  const AppJson ask(events[0].payload);
  ASSERT_GT(ask.Num("request"), 0u);
  ASSERT_TRUE(
      Act(*backend, me,
          absl::StrCat(R"({"action":"reply","client":")", me, R"(","request":)",
                       ask.Num("request"), R"(,"data":{"stored":true,"n":3}})"))
          .ok());
  std::vector<std::string> replies = ws_.WaitForMessages(c, 4);
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_EQ(replies[3], R"({"id":7,"ok":true,"data":{"stored":true,"n":3}})");
  // A refusal from the backend, with its own code.
  ASSERT_TRUE(ws_.Send(c, R"({"cmd":"chat","text":"bad","id":8})"));
  events = backend->WaitForEvents(2);
  const uint64_t second = AppJson(events[1].payload).Num("request");
  ASSERT_TRUE(
      Act(*backend, me,
          absl::StrCat(R"({"action":"reply","client":")", me, R"(","request":)",
                       second, R"(,"error":"not_allowed","message":"no"})"))
          .ok());
  replies = ws_.WaitForMessages(c, 5);
  EXPECT_EQ(replies[4],
            R"({"id":8,"error":{"code":"not_allowed","message":"no"}})");
  // No answer: backend_timeout, and a late answer changes nothing.
  const std::string timed_out =
      ws_.Request(c, R"({"cmd":"chat","text":"slow","id":9})", "9", seconds(5));
  EXPECT_TRUE(absl::StrContains(timed_out, "backend_timeout")) << timed_out;
  events = backend->WaitForEvents(3);
  ASSERT_TRUE(
      Act(*backend, me,
          absl::StrCat(R"({"action":"reply","client":")", me, R"(","request":)",
                       AppJson(events[2].payload).Num("request"),
                       R"(,"data":1})"))
          .ok());
  EXPECT_EQ(ws_.Request(c, R"({"cmd":"whoami","id":10})", "10"),
            absl::StrCat(R"({"id":10,"ok":true,"client":")", me, R"("})"));
  EXPECT_EQ(ws_.MessageCount(c), 7u);  // nothing after the timeout's answer
  EXPECT_GE(gw.Metric("channel_gateway_app_timeouts_total"), 1);
}

TEST_F(AppEventsTest, TwoBackendsShareConnectionsEachStickingToOne) {
  GatewayProcess gw = Gateway({"--threads=2", "--backend_timeout_ms=2000"});
  auto a = Backend();
  auto b = Backend();
  constexpr int kClients = 12;
  std::vector<int> clients;
  std::vector<std::string> ids;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(ws_.Connect(gw.uri()));
    ASSERT_GE(clients.back(), 0);
    ids.push_back(Whoami(clients.back()));
  }
  for (int round = 0; round < 3; ++round) {
    for (int c : clients) {
      ASSERT_TRUE(ws_.Send(c, R"({"cmd":"ping"})"));
    }
  }
  // 12 connects + 36 messages between the two.
  size_t total = 0;
  for (int tries = 0; tries < 200; ++tries) {
    total = a->EventCount() + b->EventCount();
    if (total >= 48) break;
    // One more on either (each wait ends at its first new event).
    a->WaitForEvents(a->EventCount() + 1, std::chrono::milliseconds(25));
    b->WaitForEvents(b->EventCount() + 1, std::chrono::milliseconds(25));
  }
  ASSERT_EQ(total, 48u);
  std::map<std::string, std::set<int>> seen_by;  // client -> backends
  for (const ReceivedEvent& e : a->Events()) {
    seen_by[AppJson(e.payload).Str("client")].insert(0);
  }
  for (const ReceivedEvent& e : b->Events()) {
    seen_by[AppJson(e.payload).Str("client")].insert(1);
  }
  ASSERT_EQ(seen_by.size(), static_cast<size_t>(kClients));
  for (const auto& [client, backends] : seen_by) {
    EXPECT_EQ(backends.size(), 1u) << client;
  }
  EXPECT_GT(a->EventCount(), 0u);
  EXPECT_GT(b->EventCount(), 0u);

  // Backend a dies: its connections' commands go to b from now on, and
  // every command with an id is answered (b answers every one).
  std::set<std::string> of_a;
  for (const ReceivedEvent& e : a->Events()) {
    of_a.insert(AppJson(e.payload).Str("client"));
  }
  a.reset();
  // Once the broker has seen it go (its connection count says so), every
  // event goes to b.
  for (int i = 0; i < 500 && broker_.Metric("channel_broker_connections") != 3;
       ++i) {
    std::this_thread::yield();
  }
  ASSERT_EQ(broker_.Metric("channel_broker_connections"), 3);
  const size_t b_before = b->EventCount();
  for (int i = 0; i < kClients; ++i) {
    ASSERT_TRUE(ws_.Send(clients[i],
                         absl::StrCat(R"({"cmd":"ping","id":)", 100 + i, "}")));
  }
  const std::vector<ReceivedEvent> got =
      b->WaitForEvents(b_before + kClients, seconds(10));
  ASSERT_EQ(got.size(), b_before + kClients);
  for (size_t i = b_before; i < got.size(); ++i) {
    const AppJson e(got[i].payload);
    ASSERT_TRUE(Act(*b, e.Str("client"),
                    absl::StrCat(R"({"action":"reply","client":")",
                                 e.Str("client"), R"(","request":)",
                                 e.Num("request"), R"(,"data":"pong"})"))
                    .ok());
  }
  for (int i = 0; i < kClients; ++i) {
    const std::string want =
        absl::StrCat(R"({"id":)", 100 + i, R"(,"ok":true,"data":"pong"})");
    bool answered = false;
    for (const std::string& m : ws_.WaitForMessages(clients[i], 2)) {
      answered = answered || m == want;
    }
    EXPECT_TRUE(answered) << ids[i];
  }
  EXPECT_FALSE(of_a.empty());
}

// A backend that attaches late (or restarts) gets the connection events
// nobody took meanwhile, in order, when the broker keeps them
// (--events_keep_bytes); commands are still answered no_backend at once.
class AppEventsKeptTest : public AppEventsTest {
 protected:
  void SetUp() override {
    broker_ = BrokerProcess::Start({"--events_keep_bytes=1048576"});
  }
};

TEST_F(AppEventsKeptTest, ALateBackendGetsTheConnectionEventsInOrder) {
  GatewayProcess gw = Gateway();
  const int c = ws_.Connect(gw.uri());
  ASSERT_GE(c, 0);
  const std::string me = Whoami(c);
  ASSERT_FALSE(me.empty());
  EXPECT_EQ(
      ws_.Request(c, R"({"cmd":"add_group","group_id":"g1","id":1})", "1"),
      R"({"id":1,"ok":true})");
  const std::string refused = ws_.Request(c, R"({"cmd":"chat","id":2})", "2");
  EXPECT_NE(refused.find("no_backend"), std::string::npos) << refused;
  ws_.Close(c);
  // connect, join, close: kept (the broker's own occupied/vacated and the
  // command are not).
  EXPECT_EQ(broker_.WaitMetric("channel_broker_events_kept", 3), 3);
  // The gateway counts them as its Acks come.
  EXPECT_EQ(gw.WaitMetric("channel_gateway_app_events_kept_total", 3), 3);
  EXPECT_EQ(gw.Metric("channel_gateway_app_events_dropped_total"), 1);
  auto backend = Backend();
  const std::vector<std::string> events = EventsOf(*backend, me, "close", 3);
  ASSERT_EQ(events.size(), 3u) << ::testing::PrintToString(events);
  EXPECT_EQ(AppJson(events[0]).Str("type"), "connect");
  EXPECT_EQ(AppJson(events[1]).Str("type"), "join");
  EXPECT_EQ(AppJson(events[2]).Str("type"), "close");
  EXPECT_EQ(broker_.Metric("channel_broker_events_kept"), 0);
  EXPECT_EQ(broker_.Metric("channel_broker_events_kept_delivered_total"), 3);
}

// Connection events while the gateway's broker link is down are held
// (--events_hold_bytes) and go out in order once it is back: here to a
// restarted broker that keeps them for the backend attaching after.
TEST_F(AppEventsKeptTest, EventsWhileTheLinkIsDownAreHeldThenSentInOrder) {
  GatewayProcess gw = Gateway();
  const int a = ws_.Connect(gw.uri());
  ASSERT_GE(a, 0);
  const std::string first = Whoami(a);
  const int port = broker_.port;
  size_t from = 0;
  broker_.process->Signal(SIGKILL);
  ASSERT_TRUE(broker_.process->Wait(std::chrono::seconds(10)));
  ASSERT_TRUE(gw.process->WaitForLine("broker link down",
                                      std::chrono::seconds(10), &from));
  const int b = ws_.Connect(gw.uri());
  ASSERT_GE(b, 0);
  const std::string second = Whoami(b);
  ws_.Close(a);
  EXPECT_EQ(gw.WaitMetric("channel_gateway_app_events_held_total", 2), 2);
  broker_ = BrokerProcess::Start({"--events_keep_bytes=1048576"}, port);
  EXPECT_EQ(broker_.WaitMetric("channel_broker_events_kept", 2), 2);
  auto backend = Backend();
  const std::vector<std::string> closed = EventsOf(*backend, first, "close", 1);
  ASSERT_EQ(closed.size(), 1u) << ::testing::PrintToString(closed);
  EXPECT_EQ(AppJson(closed[0]).Str("type"), "close");
  ws_.Close(b);
  const std::vector<std::string> events =
      EventsOf(*backend, second, "close", 2);
  ASSERT_EQ(events.size(), 2u) << ::testing::PrintToString(events);
  EXPECT_EQ(AppJson(events[0]).Str("type"), "connect");
  EXPECT_EQ(AppJson(events[1]).Str("type"), "close");
  EXPECT_EQ(gw.Metric("channel_gateway_app_events_dropped_total"), 0);
}

}  // namespace
}  // namespace channel::testing
