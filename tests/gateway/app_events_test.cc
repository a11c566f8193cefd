// The application's seat end to end (issue 22): real broker and gateways,
// backends as broker clients in a queue group. Every event kind with its
// fields and order; custom commands answered by the backend, no_backend,
// backend_timeout; two backends sharing connections, one killed; actions
// on a connection held by another gateway; joins the backend decides; a
// client cannot pass itself off as another.
#include <httplib.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/gateway/gateway_fixture.h"
#include "tests/support/clients/test_broker_client.h"
#include "tests/support/clients/ws_test_clients.h"
#include "tests/support/credentials/test_certificate.h"

namespace channel::testing {
namespace {

using std::chrono::seconds;

// One event or result, parsed.
struct Json {
  explicit Json(const std::string& text) { doc.Parse(text.c_str()); }
  std::string Str(const char* key) const {
    if (!doc.IsObject()) return "";
    auto it = doc.FindMember(key);
    return it != doc.MemberEnd() && it->value.IsString()
               ? std::string(it->value.GetString(), it->value.GetStringLength())
               : "";
  }
  uint64_t Num(const char* key) const {
    if (!doc.IsObject()) return 0;
    auto it = doc.FindMember(key);
    return it != doc.MemberEnd() && it->value.IsUint64() ? it->value.GetUint64()
                                                         : 0;
  }
  rapidjson::Document doc;
};

// The node channel of a client id (what precedes its last '.').
std::string NodeChannel(const std::string& client) {
  return "app:node:" + client.substr(0, client.rfind('.'));
}

class AppEventsTest : public ::testing::Test {
 protected:
  void SetUp() override { broker_ = BrokerProcess::Start(); }

  GatewayProcess Gateway(std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), "--events");
    return GatewayProcess::Start(broker_.port, extra);
  }
  std::unique_ptr<TestBrokerClient> Backend(
      const std::string& group = "backend") {
    auto backend = std::make_unique<TestBrokerClient>(broker_.port);
    EXPECT_TRUE(backend->WaitConnected());
    EXPECT_TRUE(backend->SubscribeQueue(group, {"app:events"}).ok());
    return backend;
  }
  std::string Whoami(int c) {
    const std::string reply =
        ws_.Request(c, R"({"cmd":"whoami","id":"who"})", R"("who")");
    return Json(reply).Str("client");
  }
  // Waits for the events of `client` among `backend`'s until one of type
  // `until_type` is seen (others, e.g. the broker's occupied/vacated, come
  // in between: each wait is for one more event); returns them in order.
  std::vector<std::string> EventsOf(TestBrokerClient& backend,
                                    const std::string& client,
                                    const std::string& until_type,
                                    size_t at_least) {
    std::vector<std::string> out;
    for (size_t want = at_least; want < at_least + 20; ++want) {
      out.clear();
      for (const ReceivedEvent& e : backend.WaitForEvents(want)) {
        Json j(e.payload);
        if (j.Str("client") == client) out.push_back(e.payload);
      }
      if (!out.empty() && Json(out.back()).Str("type") == until_type) break;
    }
    if (!out.empty()) {
      EXPECT_EQ(Json(out.back()).Str("type"), until_type);
    }
    return out;
  }
  // The backend's action, published to the client's node.
  absl::StatusOr<uint64_t> Act(TestBrokerClient& backend,
                               const std::string& client,
                               const std::string& json) {
    return backend.Publish(NodeChannel(client), json);
  }

  BrokerProcess broker_;
  WsTestClients ws_;
};

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
  const Json connect(events[0]);
  EXPECT_EQ(connect.Str("type"), "connect");
  EXPECT_TRUE(absl::StartsWith(connect.Str("address"), "127.0.0.1:"));
  EXPECT_EQ(connect.Str("path"), "/chat");
  EXPECT_EQ(connect.Str("query"), "");  // --event_query is off
  EXPECT_GT(connect.Num("time_ms"), 1700000000000u);
  ASSERT_TRUE(connect.doc["headers"].IsObject());
  EXPECT_STREQ(connect.doc["headers"]["X-Team"].GetString(), "blue");
  EXPECT_STREQ(connect.doc["cookies"]["sid"].GetString(), "abc123");
  EXPECT_FALSE(connect.doc["cookies"].HasMember("theme"));
  EXPECT_EQ(Json(events[1]).Str("type"), "join");
  EXPECT_EQ(Json(events[1]).Str("group"), "g1");
  const Json message(events[2]);
  EXPECT_EQ(message.Str("type"), "message");
  EXPECT_EQ(message.Num("request"), 0u);  // no id: no answer expected
  ASSERT_TRUE(message.doc["command"].IsObject());
  EXPECT_STREQ(message.doc["command"]["cmd"].GetString(), "typing");
  EXPECT_TRUE(message.doc["command"]["on"].GetBool());
  EXPECT_EQ(Json(events[3]).Str("type"), "leave");
  EXPECT_EQ(Json(events[4]).Str("group"), "g2");
  const Json close(events[5]);
  EXPECT_EQ(close.Num("code"), 1000u);
  ASSERT_TRUE(close.doc["groups"].IsArray());
  ASSERT_EQ(close.doc["groups"].Size(), 1u);
  EXPECT_STREQ(close.doc["groups"][0].GetString(), "g2");
  // Each carried the connection's id as its key, and the close ended it.
  for (const ReceivedEvent& e : backend->Events()) {
    const Json j(e.payload);
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
      const std::string type = Json(e.payload).Str("type");
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
        const Json j(e.payload);
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
  const Json ask(events[0].payload);
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
  const uint64_t second = Json(events[1].payload).Num("request");
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
                       Json(events[2].payload).Num("request"), R"(,"data":1})"))
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
    seen_by[Json(e.payload).Str("client")].insert(0);
  }
  for (const ReceivedEvent& e : b->Events()) {
    seen_by[Json(e.payload).Str("client")].insert(1);
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
    of_a.insert(Json(e.payload).Str("client"));
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
    const Json e(got[i].payload);
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

TEST_F(AppEventsTest, ActionsReachAConnectionOnAnotherGateway) {
  GatewayProcess gw1 = Gateway();
  GatewayProcess gw2 = Gateway();
  auto backend = Backend();  // publishes through the broker, like any
  const int c = ws_.Connect(gw2.uri());
  ASSERT_GE(c, 0);
  const std::string me = Whoami(c);
  auto inbox = std::make_unique<TestBrokerClient>(broker_.port);
  ASSERT_TRUE(inbox->WaitConnected());
  ASSERT_TRUE(inbox->Subscribe({"app:reply:test"}).ok());
  auto act = [&](const std::string& fields) {
    const size_t before = inbox->EventCount();
    EXPECT_TRUE(Act(*backend, me,
                    absl::StrCat(R"({"client":")", me,
                                 R"(","reply_to":"app:reply:test","ref":)",
                                 before, ",", fields, "}"))
                    .ok());
    std::vector<ReceivedEvent> results = inbox->WaitForEvents(before + 1);
    EXPECT_EQ(results.size(), before + 1);
    return results.empty() ? std::string() : results.back().payload;
  };
  // send: the text as it is.
  EXPECT_TRUE(absl::StrContains(act(R"("action":"send","message":"hello")"),
                                R"("ok":true)"));
  EXPECT_EQ(ws_.WaitForMessages(c, 2).back(), "hello");
  // join: the group's messages now reach it, wherever they come from.
  EXPECT_TRUE(absl::StrContains(act(R"("action":"join","group_id":"room")"),
                                R"("ok":true)"));
  const int other = ws_.Connect(gw1.uri());
  ASSERT_GE(other, 0);
  ASSERT_TRUE(ws_.Send(
      other,
      R"({"cmd":"send_to_group","group_id":"room","message":"to room"})"));
  EXPECT_EQ(ws_.WaitForMessages(c, 3).back(), "to room");
  // bind: reachable as its user.
  EXPECT_TRUE(absl::StrContains(act(R"("action":"bind","user":"u42")"),
                                R"("ok":true)"));
  ASSERT_TRUE(backend->Publish("user:u42", "for u42").ok());
  EXPECT_EQ(ws_.WaitForMessages(c, 4).back(), "for u42");
  // info: online, its user and groups.
  const Json info(act(R"("action":"info")"));
  EXPECT_EQ(info.doc["online"].GetBool(), true);
  EXPECT_EQ(info.Str("user"), "u42");
  ASSERT_EQ(info.doc["groups"].Size(), 1u);
  EXPECT_STREQ(info.doc["groups"][0].GetString(), "room");
  EXPECT_EQ(info.Num("ref"), 3u);
  // leave: nothing more of the group.
  EXPECT_TRUE(absl::StrContains(act(R"("action":"leave","group_id":"room")"),
                                R"("ok":true)"));
  // close, with the application's code and reason.
  EXPECT_TRUE(absl::StrContains(
      act(R"("action":"close","code":4100,"reason":"kicked")"),
      R"("ok":true)"));
  EXPECT_EQ(ws_.WaitClosed(c), 4100);
  EXPECT_EQ(ws_.CloseReason(c), "kicked");
  // Gone: not found, offline.
  const Json gone(act(R"("action":"info")"));
  EXPECT_EQ(gone.doc["online"].GetBool(), false);
  EXPECT_TRUE(absl::StrContains(act(R"("action":"send","message":"x")"),
                                R"("error":"not_found")"));
  // A malformed action is refused and counted, never crashes the gateway.
  ASSERT_TRUE(Act(*backend, me, R"({"action":"explode"})").ok());
  ASSERT_TRUE(Act(*backend, me, "not json").ok());
  EXPECT_TRUE(absl::StrContains(act(R"("action":"info")"), "online"));
  EXPECT_EQ(gw2.Metric("channel_gateway_app_actions_invalid_total"), 2);
}

TEST_F(AppEventsTest, JoinsTheBackendDecidesAreAllowedRefusedOrTimedOut) {
  GatewayProcess gw =
      Gateway({"--ask_backend=vip-*", "--backend_timeout_ms=500"});
  auto backend = Backend();
  const int c = ws_.Connect(gw.uri());
  ASSERT_GE(c, 0);
  const std::string me = Whoami(c);
  // Groups outside the patterns join at once (and are only told).
  EXPECT_EQ(
      ws_.Request(c, R"({"cmd":"add_group","group_id":"lobby","id":1})", "1"),
      R"({"id":1,"ok":true})");
  auto decide = [&](const std::string& group, const std::string& answer,
                    const std::string& id) {
    const size_t before = backend->EventCount();
    EXPECT_TRUE(ws_.Send(c, absl::StrCat(R"({"cmd":"add_group","group_id":")",
                                         group, R"(","id":)", id, "}")));
    // Its join_request (other events, e.g. the broker's occupied, may come
    // first: each wait is for one more event).
    uint64_t request = 0;
    for (size_t want = before + 1; request == 0 && want < before + 10; ++want) {
      for (const ReceivedEvent& e : backend->WaitForEvents(want)) {
        const Json j(e.payload);
        if (j.Str("type") == "join_request" && j.Str("group") == group) {
          request = j.Num("request");
        }
      }
    }
    EXPECT_GT(request, 0u);
    if (!answer.empty()) {
      EXPECT_TRUE(Act(*backend, me,
                      absl::StrCat(R"({"action":"reply","client":")", me,
                                   R"(","request":)", request, answer, "}"))
                      .ok());
    }
    // The answer with this id, once it is there (each wait is for one
    // more message than seen: no sleep).
    for (int i = 0; i < 50; ++i) {
      for (const std::string& m : ws_.Messages(c)) {
        if (absl::StartsWith(m, absl::StrCat(R"({"id":)", id, ","))) return m;
      }
      ws_.WaitForMessages(c, ws_.MessageCount(c) + 1, seconds(5));
    }
    return std::string();
  };
  EXPECT_EQ(
      decide("vip-1", "", "2").find("backend_timeout") != std::string::npos,
      true);
  EXPECT_EQ(decide("vip-2", R"(,"data":true)", "3"), R"({"id":3,"ok":true})");
  const std::string refused =
      decide("vip-3", R"(,"error":"not_a_vip","message":"pay first")", "4");
  EXPECT_TRUE(absl::StrContains(refused, R"("code":"join_refused")"))
      << refused;
  EXPECT_TRUE(absl::StrContains(refused, "pay first")) << refused;
  // Only the allowed one is a membership. One publisher's events reach
  // the gateway in order: once the last (to a group it is in) arrives, the
  // others have been delivered or dropped.
  const size_t before = ws_.MessageCount(c);
  ASSERT_TRUE(backend->Publish("group:vip-3", "not for you").ok());
  ASSERT_TRUE(backend->Publish("group:vip-1", "not for you").ok());
  ASSERT_TRUE(backend->Publish("group:vip-2", "vip news").ok());
  ASSERT_TRUE(backend->Publish("group:lobby", "marker").ok());
  std::vector<std::string> got = ws_.WaitForMessages(c, before + 2);
  ASSERT_EQ(got.size(), before + 2) << ::testing::PrintToString(got);
  EXPECT_EQ(got[before], "vip news");
  EXPECT_EQ(got[before + 1], "marker");
  for (const std::string& m : got) EXPECT_NE(m, "not for you");
}

TEST_F(AppEventsTest, AClientCannotPassItselfOffAsAnother) {
  GatewayProcess gw = Gateway();
  auto backend = Backend();
  const int victim = ws_.Connect(gw.uri());
  const int attacker = ws_.Connect(gw.uri());
  ASSERT_GE(victim, 0);
  ASSERT_GE(attacker, 0);
  const std::string victim_id = Whoami(victim);
  const std::string attacker_id = Whoami(attacker);
  ASSERT_NE(victim_id, attacker_id);
  // The command names the victim; the event names the sender.
  ASSERT_TRUE(ws_.Send(attacker, absl::StrCat(R"({"cmd":"chat","client":")",
                                              victim_id, R"(","id":1})")));
  uint64_t request = 0;
  for (const ReceivedEvent& e : backend->WaitForEvents(3)) {
    const Json j(e.payload);
    if (j.Str("type") == "message") {
      EXPECT_EQ(j.Str("client"), attacker_id);
      request = j.Num("request");
    }
  }
  ASSERT_GT(request, 0u);
  // A reply naming the request under the other connection finds nothing.
  ASSERT_TRUE(Act(*backend, victim_id,
                  absl::StrCat(R"({"action":"reply","client":")", victim_id,
                               R"(","request":)", request, R"(,"data":1})"))
                  .ok());
  // Clients cannot reach the node channels: their sends go to groups.
  ASSERT_TRUE(ws_.Send(
      attacker,
      absl::StrCat(R"({"cmd":"send_to_group","group_id":")",
                   NodeChannel(victim_id),
                   R"(","message":"{\"action\":\"close\",\"client\":\")",
                   victim_id, R"(\"}"})")));
  EXPECT_EQ(
      ws_.Request(victim, R"({"cmd":"whoami","id":2})", "2"),
      absl::StrCat(R"({"id":2,"ok":true,"client":")", victim_id, R"("})"));
  EXPECT_TRUE(ws_.IsOpen(victim));
  EXPECT_EQ(ws_.MessageCount(victim), 2u);  // its two whoami answers only
  // The backend's next action comes after the refused reply (one
  // publisher, in order): once its result is back, the count is final.
  ASSERT_TRUE(backend->Subscribe({"app:reply:spoof"}).ok());
  const size_t before = backend->EventCount();
  ASSERT_TRUE(Act(*backend, victim_id,
                  absl::StrCat(R"({"action":"info","client":")", victim_id,
                               R"(","reply_to":"app:reply:spoof"})"))
                  .ok());
  ASSERT_EQ(backend->WaitForEvents(before + 1).size(), before + 1);
  EXPECT_EQ(gw.Metric("channel_gateway_app_actions_failed_total"), 1);
  for (const std::string& m : ws_.Messages(attacker)) {
    EXPECT_FALSE(absl::StrContains(m, R"("data")")) << m;
  }
}

// The HTTP API acts on a connection wherever it is: the broker publishes
// the action and answers with the gateway's result.
TEST(AppApiTest, ClientRoutesActOnAConnectionAndSayWhenItIsGone) {
  BrokerProcess broker = BrokerProcess::Start({"--api_port=0"});
  const int api_port = broker.process->WaitForPort("api listening on");
  GatewayProcess gw = GatewayProcess::Start(broker.port);  // events off
  WsTestClients ws;
  const int c = ws.Connect(gw.uri());
  ASSERT_GE(c, 0);
  const std::string me =
      Json(ws.Request(c, R"({"cmd":"whoami","id":1})", "1")).Str("client");
  ASSERT_FALSE(me.empty());
  httplib::Client api("127.0.0.1", api_port);
  auto post = [&](const std::string& action, const std::string& body) {
    return api.Post(("/api/clients/" + me + "/" + action).c_str(), body,
                    "application/json");
  };
  auto r = post("send", R"({"message":{"text":"from the api"}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(ws.WaitForMessages(c, 2).back(), R"({"text":"from the api"})");
  r = post("join", R"({"group_id":"news"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  r = api.Get(("/api/clients/" + me).c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(absl::StrContains(r->body, R"("online":true)")) << r->body;
  EXPECT_TRUE(absl::StrContains(r->body, R"("groups":["news"])")) << r->body;
  r = post("join", R"({"group":"typo"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(absl::StrContains(r->body, "missing_field")) << r->body;
  r = post("close", R"({"code":4000,"reason":"bye"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(ws.WaitClosed(c), 4000);
  // Closed: its gateway says so (404), and for info, online:false.
  r = post("send", R"({"message":"x"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;
  r = api.Get(("/api/clients/" + me).c_str());
  ASSERT_TRUE(r);
  EXPECT_TRUE(absl::StrContains(r->body, R"("online":false)")) << r->body;
  // No gateway holds the node: 404 at once, not a timeout.
  r = api.Get("/api/clients/0123456789abcdef-0.1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_TRUE(absl::StrContains(r->body, "no gateway holds")) << r->body;
  r = api.Get("/api/clients/not-a-client-id");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

// A webhook receiver on loopback: checks every request's signature the way
// docs/API.md tells receivers to, records the batches, and answers 500 to
// the first `fail_first` requests, or holds every request until released
// (a receiver that hangs).
class WebhookReceiver {
 public:
  // With `tls`, an https receiver serving that certificate.
  WebhookReceiver(std::string secret, int fail_first, bool hang,
                  const TestCertificate* tls = nullptr)
      : secret_(std::move(secret)),
        fail_first_(fail_first),
        hang_(hang),
        scheme_(tls != nullptr ? "https" : "http"),
        server_(tls != nullptr
                    ? std::make_unique<httplib::SSLServer>(
                          tls->cert_file().c_str(), tls->key_file().c_str())
                    : std::make_unique<httplib::Server>()) {
    server_->Post(
        "/hook", [this](const httplib::Request& req, httplib::Response& res) {
          std::unique_lock<std::mutex> lock(mu_);
          ++requests_;
          if (hang_) {
            cv_.wait(lock, [this] { return released_; });
            res.status = 503;
            return;
          }
          if (requests_ <= fail_first_) {
            res.status = 500;
            return;
          }
          if (!Verify(req.get_header_value("X-Channel-Signature"), req.body)) {
            ++bad_signatures_;
            res.status = 401;
            cv_.notify_all();
            return;
          }
          rapidjson::Document doc;
          doc.Parse(req.body.c_str());
          if (doc.IsObject() && doc["events"].IsArray()) {
            batches_.push_back(doc["events"].Size());
            for (const auto& e : doc["events"].GetArray()) {
              types_.push_back(e["type"].GetString());
            }
          }
          res.status = 204;
          cv_.notify_all();
        });
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
  }
  ~WebhookReceiver() {
    Release();
    server_->stop();
    thread_.join();
  }
  std::string url() const {
    return absl::StrCat(scheme_, "://127.0.0.1:", port_, "/hook");
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  // Waits until `n` events arrived; returns their types.
  std::vector<std::string> WaitForEvents(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, seconds(20), [&] { return types_.size() >= n; });
    return types_;
  }
  std::vector<size_t> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }
  int requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  int bad_signatures() {
    std::lock_guard<std::mutex> lock(mu_);
    return bad_signatures_;
  }

 private:
  // t=<seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>, t recent.
  bool Verify(const std::string& header, const std::string& body) const {
    std::string t, v1;
    for (absl::string_view part : absl::StrSplit(header, ',')) {
      if (absl::ConsumePrefix(&part, "t=")) t = std::string(part);
      if (absl::ConsumePrefix(&part, "v1=")) v1 = std::string(part);
    }
    int64_t when = 0;
    if (!absl::SimpleAtoi(t, &when)) return false;
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    if (when < now - 300 || when > now + 300) return false;
    const std::string text = t + "." + body;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
         reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac,
         &size);
    return v1 == absl::BytesToHexString(absl::string_view(
                     reinterpret_cast<const char*>(mac), size));
  }

  const std::string secret_;
  const int fail_first_;
  const bool hang_;
  const std::string scheme_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  int requests_ = 0;
  int bad_signatures_ = 0;
  std::vector<size_t> batches_;
  std::vector<std::string> types_;
};

const char kHookSecret[] = "webhook-secret-0123456789";

// 20 connections open and close: 40 events reach the receiver in signed
// batches, after its first three answers were 500 (retried).
TEST(WebhookTest, SignedBatchesRetriedUntilTheReceiverTakesThem) {
  WebhookReceiver receiver(kHookSecret, /*fail_first=*/3, /*hang=*/false);
  BrokerProcess broker =
      BrokerProcess::Start({"--webhook_url=" + receiver.url(),
                            std::string("--webhook_secret=") + kHookSecret,
                            "--webhook_batch_ms=50", "--webhook_batch_max=16"});
  GatewayProcess gw = GatewayProcess::Start(broker.port, {"--events"});
  WsTestClients ws;
  std::vector<int> clients;
  for (int i = 0; i < 20; ++i) clients.push_back(ws.Connect(gw.uri()));
  for (int c : clients) ws.Close(c);
  const std::vector<std::string> types = receiver.WaitForEvents(40);
  ASSERT_EQ(types.size(), 40u);
  EXPECT_EQ(std::count(types.begin(), types.end(), "connect"), 20);
  EXPECT_EQ(std::count(types.begin(), types.end(), "close"), 20);
  EXPECT_EQ(receiver.bad_signatures(), 0);
  const std::vector<size_t> batches = receiver.batches();
  EXPECT_LT(batches.size(), 40u);  // batched
  for (size_t n : batches) EXPECT_LE(n, 16u);
  EXPECT_GE(broker.Metric("channel_broker_webhook_attempts_failed_total"), 3);
  EXPECT_EQ(
      broker.Metric(
          R"(channel_broker_webhook_events_dropped_total{reason="retries_exhausted"})"),
      0);
}

// https: the broker verifies the receiver's certificate against the
// system's trust store (OpenSSL's default paths; SSL_CERT_FILE here names
// the test's self-signed certificate). Trusted, the signed events arrive;
// untrusted, not one request is made and the failures are counted.
TEST(WebhookTest, HttpsReceiverTrustedGetsSignedEventsUntrustedNothing) {
  auto cert = TestCertificate::Make();
  ASSERT_NE(cert, nullptr);
  for (const bool trusted : {true, false}) {
    SCOPED_TRACE(trusted ? "trusted" : "untrusted");
    WebhookReceiver receiver(kHookSecret, 0, /*hang=*/false, cert.get());
    std::map<std::string, std::string> env;
    // Untrusted: a file that trusts nobody (no system store either).
    env["SSL_CERT_FILE"] = trusted ? cert->cert_file() : "/dev/null";
    env["SSL_CERT_DIR"] = "/nonexistent";
    BrokerProcess broker = BrokerProcess::Start(
        {"--webhook_url=" + receiver.url(),
         std::string("--webhook_secret=") + kHookSecret,
         "--webhook_batch_ms=20", "--webhook_retry_ms=2000"},
        0, env);
    GatewayProcess gw = GatewayProcess::Start(broker.port, {"--events"});
    WsTestClients ws;
    ws.Close(ws.Connect(gw.uri()));
    if (trusted) {
      const std::vector<std::string> types = receiver.WaitForEvents(2);
      ASSERT_EQ(types.size(), 2u);
      EXPECT_EQ(types[0], "connect");
      EXPECT_EQ(types[1], "close");
      EXPECT_EQ(receiver.bad_signatures(), 0);
    } else {
      const auto failure = broker.process->WaitForLine(
          "webhook POST of [0-9]+ event\\(s\\) failed: (.*)", seconds(20));
      ASSERT_TRUE(failure.has_value()) << broker.process->Output();
      // Refused for the certificate, not for want of a receiver.
      EXPECT_TRUE(absl::StrContains(*failure, "SSL")) << *failure;
      EXPECT_GE(broker.Metric("channel_broker_webhook_attempts_failed_total"),
                1);
      EXPECT_EQ(receiver.requests(), 0);
    }
  }
}

// A receiver that never answers: browsers' messages flow as before, the
// queue stays within its bound and what did not fit is counted.
TEST(WebhookTest, AHangingReceiverNeverSlowsDelivery) {
  WebhookReceiver receiver(kHookSecret, 0, /*hang=*/true);
  BrokerProcess broker = BrokerProcess::Start(
      {"--webhook_url=" + receiver.url(), "--webhook_timeout_ms=30000",
       "--webhook_max_queue_bytes=4096", "--webhook_batch_max=1"});
  GatewayProcess gw = GatewayProcess::Start(broker.port, {"--events"});
  WsTestClients ws;
  const int a = ws.Connect(gw.uri());
  const int b = ws.Connect(gw.uri());
  ASSERT_EQ(ws.Request(b, R"({"cmd":"add_group","group_id":"g","id":1})", "1"),
            R"({"id":1,"ok":true})");
  // Many events while the receiver holds its first request.
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(ws.Send(
        a,
        R"({"cmd":"note","text":"0123456789012345678901234567890123456789"})"));
  }
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(ws.Send(
        a, absl::StrCat(R"({"cmd":"send_to_group","group_id":"g","message":"m)",
                        i, R"("})")));
  }
  const std::vector<std::string> got = ws.WaitForMessages(b, 51);
  ASSERT_EQ(got.size(), 51u);
  EXPECT_EQ(got.back(), "m49");
  // The webhook took what fits in its bound and counted the rest.
  const std::string dropped =
      R"(channel_broker_webhook_events_dropped_total{reason="queue_full"})";
  for (int i = 0; i < 500 && broker.Metric(dropped) == 0; ++i) {
    std::this_thread::yield();
  }
  EXPECT_GT(broker.Metric(dropped), 0);
  EXPECT_LE(broker.Metric("channel_broker_webhook_queued_bytes"), 4096);
  EXPECT_EQ(receiver.requests(), 1);  // held: no second request meanwhile
}

}  // namespace
}  // namespace channel::testing
