// Presence members leaving: a dropped client and a SIGKILLed gateway
// removed, flapping that ends with exact lists, many presence groups per
// connection, a broker restart (the lists rebuilt, only real changes told).
#include "tests/gateway/presence/presence_members_fixture.h"

namespace channel::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

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
