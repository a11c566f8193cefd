// Presence members in a cluster (issue 23): three brokers on a 3-node NATS
// cluster, a gateway on each, a token user on each gateway. Each broker
// tells its own gateways the changes its table sees, whichever broker's
// gateway made them: every member's view (its join reply, then the events)
// ends exact, each change told once, a leave and a SIGKILLed gateway too.
#include <signal.h>

#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cluster/cluster_fixture.h"
#include "tests/gateway/gateway_fixture.h"
#include "tests/support/credentials/test_tokens.h"

namespace channel::testing {
namespace {

class ClusterPresenceMembersTest : public ClusterTest {
 protected:
  void SetUp() override {
    for (auto& flags : broker_flags_) {
      flags.push_back("--presence=chat-*:max_members=100");
    }
    for (auto& flags : gateway_flags_) {
      flags.push_back("--token_hmac_secret=" + kSecret);
    }
    ClusterTest::SetUp();
  }
  int Connect(int gateway, const std::string& user) {
    const std::string token = MintToken(
        "HS256", kSecret,
        absl::StrCat(R"({"sub":")", user, R"(","groups":["*"],"exp":)",
                     UnixNow() + 600, "}"));
    return ws_.Connect(
        absl::StrCat(gateways_[gateway].uri(), "/?format=json&token=", token));
  }
  // The view of `c`: the users of its last join reply, then the events
  // after it; `events` counts "type user" of the events.
  std::set<std::string> View(int c, std::map<std::string, int>* events) {
    static const std::regex user_re(R"re("user":"([^"]*)")re");
    static const std::regex event_re(
        R"re(^\{"type":"(member_added|member_removed)","group":"[^"]*","user":"([^"]*)")re");
    std::set<std::string> view;
    for (const std::string& m : ws_.Messages(c)) {
      std::smatch match;
      if (absl::StrContains(m, R"("ok":true,"members":)")) {
        view.clear();
        for (std::sregex_iterator it(m.begin(), m.end(), user_re), end;
             it != end; ++it) {
          view.insert((*it)[1]);
        }
      } else if (std::regex_search(m, match, event_re)) {
        ++(*events)[absl::StrCat(match[1].str(), " ", match[2].str())];
        if (match[1] == "member_added") {
          view.insert(match[2]);
        } else {
          view.erase(match[2]);
        }
      }
    }
    return view;
  }
  // Waits until `c`'s view is `want` (at most 30 s).
  void WaitView(int c, const std::set<std::string>& want) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(30);
    std::map<std::string, int> events;
    while (View(c, &events) != want &&
           std::chrono::steady_clock::now() < deadline) {
      events.clear();
      ws_.WaitForMessages(c, ws_.MessageCount(c) + 1, milliseconds(200));
    }
    events.clear();
    EXPECT_EQ(View(c, &events), want) << "connection " << c;
  }
  int Told(int c, const std::string& what) {
    std::map<std::string, int> events;
    View(c, &events);
    return events[what];
  }
  // The three members in chat-c, one per gateway (so one per broker), every
  // view exact.
  void JoinThree() {
    ann_ = Connect(0, "ann");
    bob_ = Connect(1, "bob");
    cy_ = Connect(2, "cy");
    for (int c : {ann_, bob_, cy_}) {
      ASSERT_GE(c, 0);
      ASSERT_TRUE(absl::StrContains(
          ws_.Request(c, R"({"cmd":"add_group","group_id":"chat-c","id":1})",
                      "1"),
          R"("ok":true,"members":)"));
    }
    for (int c : {ann_, bob_, cy_}) WaitView(c, {"ann", "bob", "cy"});
    for (int c : {ann_, bob_, cy_}) joined_at_[c] = ws_.MessageCount(c);
  }
  // Events "type user" of `c` from its message `from` on.
  int ToldSince(int c, size_t from, const std::string& what) {
    static const std::regex event_re(
        R"re(^\{"type":"(member_added|member_removed)","group":"[^"]*","user":"([^"]*)")re");
    const auto messages = ws_.Messages(c);
    int n = 0;
    for (size_t i = from; i < messages.size(); ++i) {
      std::smatch match;
      if (std::regex_search(messages[i], match, event_re) &&
          absl::StrCat(match[1].str(), " ", match[2].str()) == what) {
        ++n;
      }
    }
    return n;
  }
  // Whatever a failure made brokers tell about `user` while it stayed, a
  // watcher still in the group hears it whole since JoinThree: as many
  // removals as additions (a flap, or nothing), never only one of them. A
  // flap's addition may still be on its way when this is called: waited
  // for (at most 30 s), paced by the watcher's next message.
  void ExpectNoHalfFlap(int watcher, const std::string& user) {
    const size_t from = joined_at_[watcher];
    const auto deadline = std::chrono::steady_clock::now() + seconds(30);
    auto balanced = [&] {
      return ToldSince(watcher, from, "member_removed " + user) ==
             ToldSince(watcher, from, "member_added " + user);
    };
    while (!balanced() && std::chrono::steady_clock::now() < deadline) {
      ws_.WaitForMessages(watcher, ws_.MessageCount(watcher) + 1,
                          milliseconds(200));
    }
    EXPECT_EQ(ToldSince(watcher, from, "member_removed " + user),
              ToldSince(watcher, from, "member_added " + user))
        << "connection " << watcher << " about " << user;
  }
  int ann_ = -1, bob_ = -1, cy_ = -1;
  std::map<int, size_t> joined_at_;  // message count when JoinThree ended
};

TEST_F(ClusterPresenceMembersTest, EveryViewEndsExactAcrossBrokers) {
  const int ann = Connect(0, "ann");
  const int bob = Connect(1, "bob");
  const int cy = Connect(2, "cy");
  for (int c : {ann, bob, cy}) {
    ASSERT_GE(c, 0);
    ASSERT_TRUE(absl::StrContains(
        ws_.Request(c, R"({"cmd":"add_group","group_id":"chat-c","id":1})",
                    "1"),
        R"("ok":true,"members":)"));
  }
  const std::set<std::string> all = {"ann", "bob", "cy"};
  for (int c : {ann, bob, cy}) WaitView(c, all);
  ASSERT_EQ(
      ws_.Request(bob, R"({"cmd":"leave_group","group_id":"chat-c","id":2})",
                  "2"),
      R"({"id":2,"ok":true})");
  WaitView(ann, {"ann", "cy"});
  WaitView(cy, {"ann", "cy"});
  // The gateway of cy dies: its broker sees its links end, the others
  // hear it from that broker.
  gateways_[2].process->Signal(SIGKILL);
  WaitView(ann, {"ann"});
  // Each change once for ann (told, or in her join reply's list).
  EXPECT_LE(Told(ann, "member_added bob"), 1);
  EXPECT_LE(Told(ann, "member_added cy"), 1);
  EXPECT_EQ(Told(ann, "member_removed bob"), 1);
  EXPECT_EQ(Told(ann, "member_removed cy"), 1);
  EXPECT_EQ(Told(cy, "member_removed bob"), 1);
  EXPECT_EQ(Told(ann, "member_added ann"), 0);
}

// A broker dies (SIGKILL): its gateway moves to the next broker of its
// list and reports its members there; the other brokers drop the dead
// broker's entries when its heartbeats stop (5 s). Whichever comes first,
// every view ends exact, and a member that never left is told either not
// at all or removed and added again, never only removed.
TEST_F(ClusterPresenceMembersTest, BrokerKilledMembersStayOrFlapWhole) {
  JoinThree();
  brokers_[1].process->Signal(SIGKILL);
  ASSERT_TRUE(brokers_[1].process->Wait(seconds(10)).has_value());
  // Until bob's gateway has re-reported on broker 2 and broker 1's entries
  // have expired everywhere, a view may lack bob or not; after both it is
  // whole. A leave after that is told once more than any flap.
  for (int b : {0, 2}) {
    ASSERT_TRUE(brokers_[b].process->WaitForLine(
        "silent: dropping its presence", seconds(15)))
        << "broker " << b;
  }
  for (int c : {ann_, bob_, cy_}) WaitView(c, {"ann", "bob", "cy"});
  ASSERT_EQ(
      ws_.Request(cy_, R"({"cmd":"leave_group","group_id":"chat-c","id":2})",
                  "2"),
      Ok(2));
  WaitView(ann_, {"ann", "bob"});
  WaitView(bob_, {"ann", "bob"});
  ExpectNoHalfFlap(ann_, "bob");
  ExpectNoHalfFlap(cy_, "bob");
  ExpectNoHalfFlap(bob_, "ann");
  EXPECT_EQ(ToldSince(ann_, joined_at_[ann_], "member_removed cy"),
            ToldSince(ann_, joined_at_[ann_], "member_added cy") + 1);
}

// A NATS node dies: its broker loses the cluster, closes its gateway's
// links (CLUSTER_UNAVAILABLE) and the gateway moves to a broker that still
// reaches everyone; the others expire its entries. Every view ends exact
// and flaps are whole, then the node comes back and nothing changes.
TEST_F(ClusterPresenceMembersTest, NatsNodeKilledViewsEndExact) {
  JoinThree();
  nats_[0]->Signal(SIGKILL);
  ASSERT_TRUE(nats_[0]->Wait(seconds(10)).has_value());
  // Broker 0 noticed and sent its gateway away; ann is reported again
  // through another broker (a flap of ann, if any, ends whole: below).
  ASSERT_TRUE(brokers_[0].process->WaitForLine("NATS lost", seconds(15)));
  for (int c : {ann_, bob_, cy_}) WaitView(c, {"ann", "bob", "cy"});
  StartNats(0);
  ASSERT_TRUE(nats_[0]->WaitForLine("Route connection created", seconds(10)));
  // A change after the node is back reaches everyone exactly.
  ASSERT_EQ(
      ws_.Request(bob_, R"({"cmd":"leave_group","group_id":"chat-c","id":2})",
                  "2"),
      Ok(2));
  WaitView(ann_, {"ann", "cy"});
  WaitView(cy_, {"ann", "cy"});
  // bob has left: a flap of ann's may have straddled his leave.
  ExpectNoHalfFlap(cy_, "ann");
  ExpectNoHalfFlap(ann_, "cy");
  EXPECT_EQ(ToldSince(ann_, joined_at_[ann_], "member_removed bob"),
            ToldSince(ann_, joined_at_[ann_], "member_added bob") + 1);
}

// One user on two brokers (a connection on gateway 0 and one on gateway
// 1) joins and leaves in turn, 40 times, each request answered before the
// next: the user is in the group from its first join to its last leave on
// either connection. A watcher on the third broker ends with the exact
// view, told every change whole (what it heard adds up to the end state).
TEST_F(ClusterPresenceMembersTest, FlappingAcrossBrokersEndsExact) {
  const int watcher = Connect(2, "cy");
  ASSERT_GE(watcher, 0);
  ASSERT_TRUE(absl::StrContains(
      ws_.Request(watcher, R"({"cmd":"add_group","group_id":"chat-f","id":1})",
                  "1"),
      R"("ok":true,"members":)"));
  const int a0 = Connect(0, "ann");
  const int a1 = Connect(1, "ann");
  ASSERT_GE(a0, 0);
  ASSERT_GE(a1, 0);
  int id = 10;
  for (int round = 0; round < 40; ++round) {
    const int c = round % 2 == 0 ? a0 : a1;
    ASSERT_TRUE(absl::StrContains(
        ws_.Request(
            c,
            absl::StrCat(R"({"cmd":"add_group","group_id":"chat-f","id":)", id,
                         "}"),
            std::to_string(id)),
        R"("ok":true)"));
    ++id;
    ASSERT_EQ(
        ws_.Request(
            c,
            absl::StrCat(R"({"cmd":"leave_group","group_id":"chat-f","id":)",
                         id, "}"),
            std::to_string(id)),
        Ok(id));
    ++id;
  }
  // Ends out: ann on neither connection.
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  std::map<std::string, int> events;
  std::set<std::string> view;
  // Wait until the last change is told: the adds and removes balance.
  do {
    events.clear();
    view = View(watcher, &events);
    if (events["member_added ann"] == events["member_removed ann"] &&
        events["member_added ann"] > 0) {
      break;
    }
    ws_.WaitForMessages(watcher, ws_.MessageCount(watcher) + 1,
                        milliseconds(200));
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(view, std::set<std::string>{"cy"});
  EXPECT_EQ(events["member_added ann"], events["member_removed ann"]);
  // Then in on the second connection: the watcher sees ann again.
  ASSERT_TRUE(absl::StrContains(
      ws_.Request(a1, R"({"cmd":"add_group","group_id":"chat-f","id":999})",
                  "999"),
      R"("ok":true)"));
  WaitView(watcher, {"ann", "cy"});
}

}  // namespace
}  // namespace channel::testing
