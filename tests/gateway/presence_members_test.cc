// Presence members (issue 23): groups matching the broker's --presence
// keep who is there. Real broker and gateways, real WebSocket clients with
// tokens (user and info from signed claims): the list on join, each
// arrival and departure told once on every gateway, tabs of one user as
// one member, presence_full, a dropped client, a SIGKILLed gateway, a
// broker restart (the lists rebuilt, only real changes told) and flapping.
#include <signal.h>

#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/gateway/gateway_fixture.h"
#include "tests/support/clients/test_broker_client.h"
#include "tests/support/clients/ws_test_clients.h"
#include "tests/support/credentials/test_tokens.h"

namespace channel::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string MemberToken(const std::string& sub, const std::string& info) {
  return MintToken("HS256", kSecret,
                   absl::StrCat(R"({"sub":")", sub,
                                R"(","groups":["*"],"exp":)", UnixNow() + 600,
                                info.empty() ? "" : R"(,"info":)", info, "}"));
}

// A member event of `c`'s messages: type ("member_added"/"member_removed")
// and user, or empty.
struct MemberEvent {
  std::string type, group, user;
};
MemberEvent ParseEvent(const std::string& m) {
  static const std::regex re(
      R"re(^\{"type":"(member_added|member_removed)","group":"([^"]*)","user":"([^"]*)")re");
  std::smatch match;
  if (!std::regex_search(m, match, re)) return {};
  return {match[1], match[2], match[3]};
}

class PresenceMembersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = BrokerProcess::Start(BrokerFlags());
    api_port_ = broker_.process->WaitForPort("api listening on");
    gw1_ = GatewayProcess::Start(broker_.port, GatewayFlags());
    gw2_ = GatewayProcess::Start(broker_.port, GatewayFlags());
  }
  virtual std::vector<std::string> BrokerFlags() {
    return {"--api_port=0", "--presence=small-*:max_members=2,info_bytes=64",
            "--presence=chat-*:max_members=100,info_bytes=1024",
            "--presence=big-*:max_members=1000", "--history=chat-h*:size=10"};
  }
  static std::vector<std::string> GatewayFlags() {
    return {"--token_hmac_secret=" + kSecret, "--rate_limit_per_sec=100000",
            "--rate_limit_burst=100000", "--rate_limit_bytes_per_sec=0",
            // Back soon after a broker restart, well within its grace.
            "--broker_backoff_max_ms=200"};
  }
  int Connect(const GatewayProcess& gw, const std::string& user,
              const std::string& info = "") {
    return ws_.Connect(absl::StrCat(
        gw.uri(), "/?format=json&token=", MemberToken(user, info)));
  }
  std::string Join(int c, const std::string& group, int id) {
    return ws_.Request(c,
                       absl::StrCat(R"({"cmd":"add_group","group_id":")", group,
                                    R"(","id":)", id, "}"),
                       std::to_string(id));
  }
  std::vector<MemberEvent> Events(int c) {
    std::vector<MemberEvent> out;
    for (const std::string& m : ws_.Messages(c)) {
      MemberEvent e = ParseEvent(m);
      if (!e.type.empty()) out.push_back(std::move(e));
    }
    return out;
  }
  int Count(int c, const std::string& type, const std::string& user) {
    int n = 0;
    for (const MemberEvent& e : Events(c))
      n += e.type == type && e.user == user;
    return n;
  }
  // Waits until `done()` holds, woken by each message `c` receives (at
  // most 30 s).
  template <typename Done>
  void WaitUntil(int c, Done&& done) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(30);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      ws_.WaitForMessages(c, ws_.MessageCount(c) + 1, milliseconds(200));
    }
  }
  // Waits until `c` was told `type` of `user` (at most 30 s).
  void WaitEvent(int c, const std::string& type, const std::string& user) {
    WaitUntil(c, [&] { return Count(c, type, user) > 0; });
    ASSERT_GE(Count(c, type, user), 1)
        << "connection " << c << " was never told " << type << " " << user;
  }
  std::string ApiMembers(const std::string& group) {
    httplib::Client client("127.0.0.1", api_port_);
    auto r = client.Get(("/api/presence/members?group_id=" + group).c_str());
    return r ? absl::StrCat(r->status, " ", r->body) : "no answer";
  }

  BrokerProcess broker_;
  int api_port_ = 0;
  GatewayProcess gw1_, gw2_;
  WsTestClients ws_;
};

TEST_F(PresenceMembersTest, JoinGetsTheListAndEveryChangeIsToldOnceEverywhere) {
  const int alice = Connect(gw1_, "alice", R"({"name":"Alice"})");
  // The token library writes the claims' keys in order.
  const int bob = Connect(gw2_, "bob", R"({"name":"Bob","age":7})");
  const int carol = Connect(gw1_, "carol");
  ASSERT_GE(alice, 0);
  ASSERT_GE(bob, 0);
  ASSERT_GE(carol, 0);
  EXPECT_EQ(
      Join(alice, "chat-1", 1),
      R"({"id":1,"ok":true,"members":[{"user":"alice","info":{"name":"Alice"}}]})");
  EXPECT_EQ(
      Join(bob, "chat-1", 1),
      R"({"id":1,"ok":true,"members":[{"user":"alice","info":{"name":"Alice"}},{"user":"bob","info":{"age":7,"name":"Bob"}}]})");
  WaitEvent(alice, "member_added", "bob");
  EXPECT_TRUE(absl::StrContains(
      ws_.Messages(alice).back(),
      R"({"type":"member_added","group":"chat-1","user":"bob","info":{"age":7,"name":"Bob"}})"))
      << ws_.Messages(alice).back();
  const std::string carol_join = Join(carol, "chat-1", 1);
  EXPECT_TRUE(absl::StrContains(carol_join, R"({"user":"carol","info":{}})"))
      << carol_join;
  WaitEvent(alice, "member_added", "carol");
  WaitEvent(bob, "member_added", "carol");
  ASSERT_EQ(
      ws_.Request(bob, R"({"cmd":"leave_group","group_id":"chat-1","id":2})",
                  "2"),
      R"({"id":2,"ok":true})");
  WaitEvent(alice, "member_removed", "bob");
  WaitEvent(carol, "member_removed", "bob");
  ws_.Close(carol);
  WaitEvent(alice, "member_removed", "carol");
  // Once each; nobody is told of itself; bob, gone, hears nothing after.
  EXPECT_EQ(Count(alice, "member_added", "bob"), 1);
  EXPECT_EQ(Count(alice, "member_added", "carol"), 1);
  EXPECT_EQ(Count(alice, "member_removed", "bob"), 1);
  EXPECT_EQ(Count(alice, "member_removed", "carol"), 1);
  EXPECT_EQ(Count(bob, "member_added", "carol"), 1);
  EXPECT_EQ(Count(carol, "member_removed", "bob"), 1);
  EXPECT_EQ(Count(alice, "member_added", "alice"), 0);
  EXPECT_EQ(Count(bob, "member_added", "bob"), 0);
  EXPECT_EQ(Count(bob, "member_removed", "carol"), 0);
  EXPECT_EQ(Count(carol, "member_added", "carol"), 0);
  EXPECT_EQ(
      ApiMembers("chat-1"),
      R"(200 {"ok":true,"group_id":"chat-1","members":[{"user":"alice","info":{"name":"Alice"}}]})");
  EXPECT_TRUE(absl::StartsWith(ApiMembers("plain"), "404 "));
}

// Backends hear the same changes with the application's events, and a
// plain subscriber of the group's channel gets the list first.
TEST_F(PresenceMembersTest, BackendsHearTheChangesAndTheList) {
  TestBrokerClient backend(broker_.port);
  ASSERT_TRUE(backend.WaitConnected());
  ASSERT_TRUE(backend.Subscribe({"app:events"}).ok());
  const int ann = Connect(gw1_, "ann", R"({"n":1})");
  ASSERT_NE(Join(ann, "chat-b", 1).find(R"("ok":true)"), std::string::npos);
  ws_.Close(ann);
  std::vector<std::string> seen;
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    seen.clear();
    for (const auto& e : backend.Events()) {
      if (absl::StrContains(e.payload, R"("type":"member_)")) {
        seen.push_back(e.payload);
      }
    }
    if (seen.size() >= 2) break;
    backend.WaitForEvents(backend.EventCount() + 1, milliseconds(200));
  }
  EXPECT_EQ(
      seen,
      (std::vector<std::string>{
          R"({"type":"member_added","group":"chat-b","user":"ann","info":{"n":1}})",
          R"({"type":"member_removed","group":"chat-b","user":"ann","info":{"n":1}})"}));
  // A subscriber of group:chat-b: the (empty) list before its Ack.
  TestBrokerClient reader(broker_.port);
  ASSERT_TRUE(reader.WaitConnected());
  ASSERT_TRUE(reader.Subscribe({"group:chat-b"}).ok());
  const auto events = reader.WaitForEvents(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].payload, "[]");
}

// Member events are no messages: a group with history and a member list
// keeps only its messages, and its offsets count only them.
TEST_F(PresenceMembersTest, HistoryKeepsMessagesNotMemberEvents) {
  const int ann = Connect(gw1_, "ann");
  const int bob = Connect(gw2_, "bob");
  const std::string first = Join(ann, "chat-h1", 1);
  EXPECT_TRUE(absl::StrContains(first, R"("offset":0)")) << first;
  EXPECT_TRUE(absl::StrContains(first, R"("members":)")) << first;
  ASSERT_NE(Join(bob, "chat-h1", 1).find(R"("ok":true)"), std::string::npos);
  WaitEvent(ann, "member_added", "bob");
  ASSERT_EQ(
      ws_.Request(
          bob,
          R"({"cmd":"send_to_group","group_id":"chat-h1","message":"hi","id":2})",
          "2"),
      R"({"id":2,"ok":true})");
  ws_.Close(bob);
  WaitEvent(ann, "member_removed", "bob");
  const std::string history =
      ws_.Request(ann, R"({"cmd":"history","group_id":"chat-h1","id":3})", "3");
  EXPECT_TRUE(absl::StrContains(history, R"("offset":1,)")) << history;
  EXPECT_TRUE(absl::StrContains(history, R"("message":"hi")")) << history;
  EXPECT_FALSE(absl::StrContains(history, "member_")) << history;
}

TEST_F(PresenceMembersTest, TabsOfOneUserAreOneMember) {
  const int observer = Connect(gw1_, "olga");
  ASSERT_EQ(
      Join(observer, "chat-t", 1).find(R"("ok":true)") != std::string::npos,
      true);
  const int tab1 = Connect(gw1_, "tom");
  const int tab2 = Connect(gw2_, "tom");
  const int tab3 = Connect(gw2_, "tom");
  for (int tab : {tab1, tab2, tab3}) {
    ASSERT_GE(tab, 0);
    ASSERT_NE(Join(tab, "chat-t", 1).find(R"("ok":true)"), std::string::npos);
  }
  WaitEvent(observer, "member_added", "tom");
  ws_.Close(tab1);
  ws_.Close(tab2);
  // A marker after the closes: once it is told, anything about tom's
  // first two tabs would have been too.
  const int marker = Connect(gw2_, "mark");
  ASSERT_NE(Join(marker, "chat-t", 1).find(R"("ok":true)"), std::string::npos);
  WaitEvent(observer, "member_added", "mark");
  EXPECT_EQ(Count(observer, "member_removed", "tom"), 0);
  ws_.Close(tab3);
  WaitEvent(observer, "member_removed", "tom");
  EXPECT_EQ(Count(observer, "member_added", "tom"), 1);
  EXPECT_EQ(Count(observer, "member_removed", "tom"), 1);
}

// Info comes from the signed token only: a command's "info" is not read,
// an info over the group's info_bytes is refused, and a connection with no
// user cannot join.
TEST_F(PresenceMembersTest, InfoComesFromTheTokenOnly) {
  const int eve = Connect(gw1_, "eve", R"({"role":"user"})");
  ASSERT_GE(eve, 0);
  const std::string reply = ws_.Request(
      eve,
      R"({"cmd":"add_group","group_id":"chat-f","id":1,"info":{"role":"admin"}})",
      "1");
  EXPECT_TRUE(
      absl::StrContains(reply, R"({"user":"eve","info":{"role":"user"}})"))
      << reply;
  EXPECT_FALSE(absl::StrContains(reply, "admin")) << reply;
  const int big = Connect(
      gw1_, "big", absl::StrCat(R"({"bio":")", std::string(100, 'x'), R"("})"));
  const std::string too_big = Join(big, "small-1", 1);
  EXPECT_TRUE(absl::StrContains(too_big, R"("code":"info_too_large")"))
      << too_big;
  // The same info fits chat-* (1024 bytes).
  EXPECT_TRUE(absl::StrContains(Join(big, "chat-f", 2), R"("ok":true)"));
  // An info that is not an object: the token is refused.
  const int bad = Connect(gw1_, "bad", R"("admin")");
  ASSERT_GE(bad, 0);
  ASSERT_TRUE(ws_.WaitClosed(bad).has_value());
  EXPECT_TRUE(absl::StrContains(ws_.CloseReason(bad), "bad_claims"))
      << ws_.CloseReason(bad);
  // A gateway without tokens: no user, no member.
  GatewayProcess open = GatewayProcess::Start(broker_.port, {});
  const int anon = ws_.Connect(open.uri() + "/?format=json");
  ASSERT_GE(anon, 0);
  EXPECT_TRUE(
      absl::StrContains(Join(anon, "chat-f", 1), R"("code":"token_required")"));
}

TEST_F(PresenceMembersTest, AFullGroupRefusesTheJoinAndTellsNobody) {
  const int a = Connect(gw1_, "a");
  const int b = Connect(gw2_, "b");
  const int c = Connect(gw2_, "c");
  ASSERT_NE(Join(a, "small-2", 1).find(R"("ok":true)"), std::string::npos);
  ASSERT_NE(Join(b, "small-2", 1).find(R"("ok":true)"), std::string::npos);
  WaitEvent(a, "member_added", "b");
  const std::string refused = Join(c, "small-2", 1);
  EXPECT_TRUE(absl::StrContains(refused, R"("code":"presence_full")"))
      << refused;
  // c is not a member: it gets nothing of the group, and after a marker
  // (b leaves) nobody was told of c.
  ASSERT_TRUE(ws_.Send(
      a, R"({"cmd":"send_to_group","group_id":"small-2","message":"hi"})"));
  ws_.Close(b);
  WaitEvent(a, "member_removed", "b");
  EXPECT_EQ(Count(a, "member_added", "c"), 0);
  for (const std::string& m : ws_.Messages(c)) {
    EXPECT_FALSE(absl::StrContains(m, "hi")) << m;
  }
  // The place b left is free again.
  EXPECT_NE(Join(c, "small-2", 2).find(R"("ok":true)"), std::string::npos);
  WaitEvent(a, "member_added", "c");
}

TEST_F(PresenceMembersTest, ADroppedClientAndAKilledGatewayAreRemoved) {
  const int watcher = Connect(gw1_, "watcher");
  ASSERT_NE(Join(watcher, "chat-k", 1).find(R"("ok":true)"), std::string::npos);
  const int dropped = Connect(gw1_, "dropped");
  const int far1 = Connect(gw2_, "far1");
  const int far2 = Connect(gw2_, "far2");
  for (int c : {dropped, far1, far2}) {
    ASSERT_NE(Join(c, "chat-k", 1).find(R"("ok":true)"), std::string::npos);
  }
  WaitEvent(watcher, "member_added", "far2");
  // No close frame: the TCP connection just ends.
  ws_.Abort(dropped);
  WaitEvent(watcher, "member_removed", "dropped");
  // The whole gateway dies: its link to the broker ends with it.
  const auto killed = std::chrono::steady_clock::now();
  gw2_.process->Signal(SIGKILL);
  WaitEvent(watcher, "member_removed", "far1");
  WaitEvent(watcher, "member_removed", "far2");
  const auto took = std::chrono::steady_clock::now() - killed;
  EXPECT_LT(took, seconds(10)) << "a SIGKILLed gateway's members are removed "
                                  "once the broker sees its link end";
  EXPECT_EQ(
      ApiMembers("chat-k"),
      R"(200 {"ok":true,"group_id":"chat-k","members":[{"user":"watcher","info":{}}]})");
}

// 1,000 join/leave cycles of one user, pipelined: the watcher on the other
// gateway hears strictly alternating arrivals and departures, and the
// lists end exact.
TEST_F(PresenceMembersTest, FlappingEndsWithExactLists) {
  const int watcher = Connect(gw1_, "watcher");
  const int flapper = Connect(gw2_, "flap");
  ASSERT_NE(Join(watcher, "chat-f", 1).find(R"("ok":true)"), std::string::npos);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(
        ws_.Send(flapper, R"({"cmd":"add_group","group_id":"chat-f"})"));
    ASSERT_TRUE(
        ws_.Send(flapper, R"({"cmd":"leave_group","group_id":"chat-f"})"));
  }
  ASSERT_EQ(
      ws_.Request(flapper,
                  R"({"cmd":"leave_group","group_id":"chat-f","id":9})", "9"),
      R"({"id":9,"ok":true})");
  // (A leave is answered before the broker has it: the watcher is waited
  // for until it was told the last departure.)
  WaitUntil(watcher,
            [&] { return Count(watcher, "member_removed", "flap") >= 1000; });
  std::string last;
  int added = 0;
  for (const MemberEvent& e : Events(watcher)) {
    if (e.user != "flap") continue;
    ASSERT_NE(e.type, last) << "two " << e.type << " in a row";
    last = e.type;
    added += e.type == "member_added";
  }
  // Each join and each leave is its own change at the broker (the worker
  // sends a leave before the next join's report): all 2,000 are told.
  EXPECT_EQ(last, "member_removed");
  EXPECT_EQ(added, 1000);
  EXPECT_EQ(Count(watcher, "member_removed", "flap"), 1000);
  EXPECT_EQ(
      ApiMembers("chat-f"),
      R"(200 {"ok":true,"group_id":"chat-f","members":[{"user":"watcher","info":{}}]})");
  // The flapper itself: never told of its own arrivals or departures.
  EXPECT_EQ(Count(flapper, "member_added", "flap"), 0);
}

// 100 members join at once (each join is O(members) deliveries: 10,000
// in all), then every one leaves and joins again at once: every member's
// view (its last join reply, then the events after it) ends exactly the
// broker's list.
TEST_F(PresenceMembersTest,
       AHundredMembersJoinAndRejoinAtOnceAndEveryViewEndsExact) {
  constexpr int kMembers = 100;
  std::vector<int> conns;
  for (int i = 0; i < kMembers; ++i) {
    conns.push_back(Connect(
        i % 2 == 0 ? gw1_ : gw2_, absl::StrCat("m", i),
        absl::StrCat(R"({"name":")", std::string(200, 'x'), i, R"("})")));
    ASSERT_GE(conns.back(), 0);
  }
  auto all_at_once = [&](int id, bool leave_first) {
    for (int c : conns) {
      if (leave_first) {
        ASSERT_TRUE(
            ws_.Send(c, R"({"cmd":"leave_group","group_id":"big-100"})"));
      }
      ASSERT_TRUE(ws_.Send(
          c, absl::StrCat(R"({"cmd":"add_group","group_id":"big-100","id":)",
                          id, "}")));
    }
    const std::string ok = absl::StrCat(R"({"id":)", id, R"(,"ok":true)");
    for (int c : conns) {
      auto replied = [&] {
        for (const std::string& m : ws_.Messages(c)) {
          if (absl::StartsWith(m, ok)) return true;
        }
        return false;
      };
      WaitUntil(c, replied);
      ASSERT_TRUE(replied()) << "connection " << c << " got no reply " << id;
    }
  };
  all_at_once(1, false);
  all_at_once(2, true);
  // A marker after everything: once each member has it, it has every
  // change before it (the broker's order).
  const int marker = Connect(gw2_, "zz-marker");
  ASSERT_NE(Join(marker, "big-100", 1).find(R"("ok":true)"), std::string::npos);
  for (int c : conns) WaitEvent(c, "member_added", "zz-marker");
  std::set<std::string> want;
  for (int i = 0; i < kMembers; ++i) want.insert(absl::StrCat("m", i));
  want.insert("zz-marker");
  static const std::regex user_re(R"re("user":"([^"]*)")re");
  for (int c : conns) {
    std::set<std::string> view;
    for (const std::string& m : ws_.Messages(c)) {
      if (absl::StartsWith(m, R"({"id":2,"ok":true,"members":)")) {
        view.clear();
        for (std::sregex_iterator it(m.begin(), m.end(), user_re), end;
             it != end; ++it) {
          view.insert((*it)[1]);
        }
        continue;
      }
      const MemberEvent e = ParseEvent(m);
      if (e.type == "member_added") view.insert(e.user);
      if (e.type == "member_removed") view.erase(e.user);
    }
    EXPECT_EQ(view, want) << "connection " << c;
  }
}

// One connection in 200 presence groups: its arrivals, and its close (one
// report for all 200 leaves), are told once in each group.
TEST_F(PresenceMembersTest, ManyPresenceGroupsPerConnection) {
  constexpr int kGroups = 200;
  const int watcher = Connect(gw1_, "watcher");
  const int busy = Connect(gw2_, "busy");
  for (int c : {watcher, busy}) {
    for (int g = 0; g < kGroups; ++g) {
      ASSERT_TRUE(
          ws_.Send(c, absl::StrCat(R"({"cmd":"add_group","group_id":"chat-m)",
                                   g, R"(","id":)", g + 1, "}")));
    }
    // Every join answered (subscribed, reported) before the next user
    // starts: the watcher is in every group before busy comes and goes.
    auto answered = [&] {
      int n = 0;
      for (const std::string& m : ws_.Messages(c)) {
        n += absl::StrContains(m, R"(,"ok":true,"members":)");
      }
      return n;
    };
    WaitUntil(c, [&] { return answered() >= kGroups; });
    ASSERT_EQ(answered(), kGroups);
  }
  ws_.Close(busy);
  WaitUntil(watcher, [&] {
    return Count(watcher, "member_removed", "busy") >= kGroups;
  });
  // The busy user joined each group after the watcher's join was sent,
  // but may have been in a group's list when the watcher's reply was
  // built: arrivals told at most once, departures exactly once.
  EXPECT_EQ(Count(watcher, "member_removed", "busy"), kGroups);
  EXPECT_LE(Count(watcher, "member_added", "busy"), kGroups);
  std::set<std::string> groups;
  for (const MemberEvent& e : Events(watcher)) {
    if (e.type == "member_removed") groups.insert(e.group);
  }
  EXPECT_EQ(groups.size(), static_cast<size_t>(kGroups));
}

// The broker restarts (SIGKILL, then on the same port) with a grace: the
// lists it sends while gateways come back are partial and change nothing;
// at the grace's end the whole lists go out, and members hear exactly what
// changed meanwhile: who left while the broker was down, once.
class PresenceRestartTest : public PresenceMembersTest {
 protected:
  std::vector<std::string> BrokerFlags() override {
    std::vector<std::string> flags = PresenceMembersTest::BrokerFlags();
    flags.push_back("--resubscribe_grace_ms=3000");
    return flags;
  }
};

TEST_F(PresenceRestartTest, TheListsAreRebuiltAndOnlyRealChangesTold) {
  const int alice = Connect(gw1_, "alice");
  const int bob = Connect(gw2_, "bob");
  const int dave = Connect(gw2_, "dave");
  for (int c : {alice, bob, dave}) {
    ASSERT_NE(Join(c, "chat-r", 1).find(R"("ok":true)"), std::string::npos);
  }
  WaitEvent(alice, "member_added", "dave");
  const int port = broker_.port;
  broker_.process->Signal(SIGKILL);
  broker_.process->Wait(seconds(10));
  ws_.Close(bob);  // leaves while the broker is down
  ASSERT_TRUE(ws_.WaitClosed(bob).has_value());
  broker_ = BrokerProcess::Start(BrokerFlags(), port);
  api_port_ = broker_.process->WaitForPort("api listening on");
  WaitEvent(alice, "member_removed", "bob");
  EXPECT_EQ(Count(alice, "member_removed", "bob"), 1);
  EXPECT_EQ(Count(alice, "member_removed", "dave"), 0);
  EXPECT_EQ(Count(alice, "member_added", "dave"), 1);
  EXPECT_EQ(Count(dave, "member_removed", "alice"), 0);
  EXPECT_EQ(
      ApiMembers("chat-r"),
      R"(200 {"ok":true,"group_id":"chat-r","members":[{"user":"alice","info":{}},{"user":"dave","info":{}}]})");
  // Still live: a new member is told to both.
  const int erin = Connect(gw1_, "erin");
  ASSERT_NE(Join(erin, "chat-r", 1).find(R"("ok":true)"), std::string::npos);
  WaitEvent(alice, "member_added", "erin");
  WaitEvent(dave, "member_added", "erin");
}

}  // namespace
}  // namespace channel::testing
