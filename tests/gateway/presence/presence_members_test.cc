// Presence members (issue 23): groups matching the broker's --presence
// keep who is there. Real broker and gateways, real WebSocket clients with
// tokens (user and info from signed claims): the list on join, each
// arrival and departure told once on every gateway, tabs of one user as
// one member, presence_full (departures, flapping and a broker restart:
// presence_departures_test.cc).
#include "tests/gateway/presence/presence_members_fixture.h"

namespace channel::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

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

}  // namespace
}  // namespace channel::testing
