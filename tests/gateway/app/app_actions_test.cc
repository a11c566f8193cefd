// The application acting on connections (issue 22): actions on a
// connection held by another gateway, joins the backend decides, a client
// that cannot pass itself off as another, the HTTP API's client routes.
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
#include "tests/gateway/app/app_events_fixture.h"

namespace channel::testing {
namespace {

using std::chrono::seconds;

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
  const AppJson info(act(R"("action":"info")"));
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
  const AppJson gone(act(R"("action":"info")"));
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
        const AppJson j(e.payload);
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
    const AppJson j(e.payload);
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
      AppJson(ws.Request(c, R"({"cmd":"whoami","id":1})", "1")).Str("client");
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

}  // namespace
}  // namespace channel::testing
