// A real broker and two real ws-gateway processes on loopback, driven by
// real WebSocket clients.
#include <signal.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gateway/commands/replies.h"
#include "gtest/gtest.h"
#include "tests/gateway/gateway_integration_fixture.h"
#include "tests/support/clients/ws_test_clients.h"
#include "tests/support/sockets/raw_ws_socket.h"

namespace channel::testing {
namespace {

using std::chrono::seconds;

const char kSeedMessage[] = "Esta é a mensagem";

TEST_F(GatewayIntegrationTest, SeedScenarioByteExactAcrossGateways) {
  const int a = ws_.Connect(gw1_.uri());
  const int b = ws_.Connect(gw2_.uri());
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  // The seed sends add_group and send_to_group back to back: the sender
  // must receive its own message. "123" and 123 are one group.
  ASSERT_TRUE(ws_.Send(b, R"({"cmd":"add_group","group_id":123,"id":1})"));
  ASSERT_EQ(ws_.WaitForMessages(b, 1), std::vector<std::string>{Ok(1)});
  ASSERT_TRUE(ws_.Send(a, R"({"cmd":"add_group","group_id":"123"})"));
  ASSERT_TRUE(ws_.Send(
      a, absl::StrCat(R"({"cmd":"send_to_group","group_id":"123","message":")",
                      kSeedMessage, "\"}")));
  EXPECT_EQ(ws_.WaitForMessages(a, 1), std::vector<std::string>{kSeedMessage});
  EXPECT_EQ(ws_.WaitForMessages(b, 2),
            (std::vector<std::string>{Ok(1), kSeedMessage}));
}

// ?format=json: every delivery is a JSON object naming its group (or
// "all"); without it the seed's bare text, byte for byte.
TEST_F(GatewayIntegrationTest, JsonFramingIsOptIn) {
  const int rich = ws_.Connect(gw1_.uri() + "/?format=json");
  const int plain = ws_.Connect(gw2_.uri());
  ASSERT_GE(rich, 0);
  ASSERT_GE(plain, 0);
  ASSERT_EQ(ws_.Request(rich, Join("r1", 1), "1"), Ok(1));
  ASSERT_EQ(ws_.Request(rich, Join("r2", 2), "2"), Ok(2));
  ASSERT_EQ(ws_.Request(plain, Join("r1", 1), "1"), Ok(1));
  ASSERT_TRUE(ws_.Send(plain, SendTo("r1", "to one")));
  ASSERT_TRUE(ws_.Send(rich, SendTo("r2", "to two")));
  ASSERT_TRUE(ws_.Send(
      plain, R"({"cmd":"send_to_all","message":{"n":1},"exclude_self":true})"));
  auto got = ws_.WaitForMessages(rich, 5);
  ASSERT_EQ(got.size(), 5u);
  std::vector<std::string> deliveries(got.begin() + 2, got.end());
  std::sort(deliveries.begin(), deliveries.end());
  EXPECT_EQ(deliveries,
            (std::vector<std::string>{
                R"({"type":"message","all":true,"message":"{\"n\":1}"})",
                R"({"type":"message","group":"r1","message":"to one"})",
                R"({"type":"message","group":"r2","message":"to two"})"}));
  EXPECT_EQ(ws_.WaitForMessages(plain, 2)[1], "to one");
}

TEST_F(GatewayIntegrationTest, MessageValuesArriveAsTextOrJson) {
  const int a = ws_.Connect(gw1_.uri());
  ASSERT_GE(a, 0);
  ASSERT_EQ(ws_.Request(a, Join("v", 1), "1"), Ok(1));
  ASSERT_TRUE(ws_.Send(
      a,
      R"({"cmd":"send_to_group","group_id":"v","message":"line\nquote\" \u00e9 \ud83d\ude00"})"));
  ASSERT_TRUE(ws_.Send(
      a,
      R"({"cmd":"send_to_group","group_id":"v","message":{"k":[1,2.5,null]}})"));
  ASSERT_TRUE(
      ws_.Send(a, R"({"cmd":"send_to_group","group_id":"v","message":42})"));
  ASSERT_TRUE(
      ws_.Send(a, R"({"cmd":"send_to_group","group_id":"v","message":""})"));
  auto got = ws_.WaitForMessages(a, 5);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[1], "line\nquote\" \xc3\xa9 \xf0\x9f\x98\x80");
  EXPECT_EQ(got[2], R"({"k":[1,2.5,null]})");
  EXPECT_EQ(got[3], "42");
  EXPECT_EQ(got[4], "");
}

TEST_F(GatewayIntegrationTest, HundredsOfClientsInTensOfGroups) {
  constexpr int kClients = 240;
  constexpr int kGroups = 24;
  std::vector<int> clients;
  std::map<int, std::set<std::string>> groups_of;   // client -> groups
  std::map<std::string, std::vector<int>> members;  // group -> clients
  for (int i = 0; i < kClients; ++i) {
    const int c = ws_.Connect(i % 2 == 0 ? gw1_.uri() : gw2_.uri());
    ASSERT_GE(c, 0) << i;
    clients.push_back(c);
    // Every client in one group; every third client in a second one.
    std::vector<std::string> mine = {absl::StrCat("g", i % kGroups)};
    if (i % 3 == 0) mine.push_back(absl::StrCat("g", (i / 3) % kGroups + 100));
    for (const auto& g : mine) {
      groups_of[c].insert(g);
      members[g].push_back(c);
    }
  }
  // Joins with ids: each reply means the join is live at the broker.
  int id = 1;
  for (int c : clients) {
    for (const auto& g : groups_of[c]) {
      ASSERT_EQ(ws_.Request(c, Join(g, id), std::to_string(id)), Ok(id));
      ++id;
    }
  }
  // Replies arrived on each client; from here on count only deliveries.
  std::map<int, size_t> base;
  for (int c : clients) base[c] = ws_.MessageCount(c);

  // Every group gets one message from a member (sender included), one from
  // a member with exclude_self, and one from a non-member.
  std::map<int, std::multiset<std::string>> want;
  int sent = 0;
  for (const auto& [g, list] : members) {
    const int member = list.front();
    const int excluder = list.back();
    int outsider = -1;
    for (int c : clients) {
      if (!groups_of[c].count(g)) {
        outsider = c;
        break;
      }
    }
    ASSERT_GE(outsider, 0);
    const std::string m1 = absl::StrCat(g, "-from-member-", sent++);
    const std::string m2 = absl::StrCat(g, "-exclude-self-", sent++);
    const std::string m3 = absl::StrCat(g, "-from-outsider-", sent++);
    ASSERT_TRUE(ws_.Send(member, SendTo(g, m1)));
    ASSERT_TRUE(ws_.Send(excluder, SendTo(g, m2, /*exclude_self=*/true)));
    ASSERT_TRUE(ws_.Send(outsider, SendTo(g, m3)));
    for (int c : list) {
      want[c].insert(m1);
      if (c != excluder) want[c].insert(m2);
      want[c].insert(m3);
    }
  }
  // Per-group order holds, so a final barrier message per group, once seen
  // by every member, means every earlier message has arrived.
  for (const auto& [g, list] : members) {
    ASSERT_TRUE(ws_.Send(list.front(), SendTo(g, "barrier-" + g)));
    for (int c : list) want[c].insert("barrier-" + g);
  }
  for (int c : clients) {
    const size_t expected = want[c].size();
    auto got = ws_.WaitForMessages(c, base[c] + expected, seconds(30));
    std::multiset<std::string> received(got.begin() + base[c], got.end());
    EXPECT_EQ(received, want[c]) << "client " << c;  // exactly once, only own
  }
  EXPECT_EQ(gw1_.Metric("channel_gateway_connections"), kClients / 2);
  EXPECT_EQ(gw2_.Metric("channel_gateway_connections"), kClients / 2);
}

TEST_F(GatewayIntegrationTest, SendToAllReachesEveryConnection) {
  const int a = ws_.Connect(gw1_.uri());
  const int b = ws_.Connect(gw2_.uri());
  const int c = ws_.Connect(gw2_.uri());
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_GE(c, 0);
  ASSERT_EQ(
      ws_.Request(a, R"({"cmd":"send_to_all","message":"hello all","id":7})",
                  "7"),
      Ok(7));
  // The sender's own copy is delivered locally: before or after its ok.
  auto own = ws_.WaitForMessages(a, 2);
  std::sort(own.begin(), own.end());
  EXPECT_EQ(own, (std::vector<std::string>{"hello all", Ok(7)}));  // sorted
  EXPECT_EQ(ws_.WaitForMessages(b, 1), std::vector<std::string>{"hello all"});
  EXPECT_EQ(ws_.WaitForMessages(c, 1), std::vector<std::string>{"hello all"});
  ASSERT_TRUE(ws_.Send(
      b, R"({"cmd":"send_to_all","message":"not me","exclude_self":true})"));
  EXPECT_EQ(ws_.WaitForMessages(c, 2)[1], "not me");
  EXPECT_EQ(ws_.WaitForMessages(a, 3)[2], "not me");
  // b got only the first; a round trip proves nothing else is on its way.
  ASSERT_EQ(ws_.Request(b, Join("x", 8), "8"), Ok(8));
  EXPECT_EQ(ws_.Messages(b), (std::vector<std::string>{"hello all", Ok(8)}));
}

// Sole interest: a group whose only members are on one worker is that
// worker's alone; its sends skip the broker. Once another gateway's client
// has joined (its ok means the broker subscription is live), the next send
// reaches it, exactly once.
TEST_F(GatewayIntegrationTest, SoleHolderSkipsTheBrokerUntilAnotherJoins) {
  const int a = ws_.Connect(gw1_.uri());
  const int b = ws_.Connect(gw2_.uri());
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_EQ(ws_.Request(a, Join("solo", 1), "1"), Ok(1));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(ws_.Send(a, SendTo("solo", absl::StrCat("alone ", i))));
  }
  EXPECT_EQ(ws_.WaitForMessages(a, 4).size(), 4u);
  EXPECT_EQ(gw1_.Metric("channel_gateway_sole_publishes_total"), 3);
  EXPECT_EQ(broker_.Metric("channel_broker_publishes_total"), 0);

  ASSERT_EQ(ws_.Request(b, Join("solo", 2), "2"), Ok(2));
  ASSERT_TRUE(ws_.Send(a, SendTo("solo", "together")));
  EXPECT_EQ(ws_.WaitForMessages(b, 2),
            (std::vector<std::string>{Ok(2), "together"}));
  EXPECT_EQ(ws_.WaitForMessages(a, 5).back(), "together");
  EXPECT_EQ(gw1_.Metric("channel_gateway_sole_publishes_total"), 3);
  EXPECT_EQ(broker_.Metric("channel_broker_publishes_total"), 1);
  // Nothing else on its way to b: a round trip.
  ASSERT_EQ(ws_.Request(b, Join("y", 3), "3"), Ok(3));
  EXPECT_EQ(ws_.Messages(b),
            (std::vector<std::string>{Ok(2), "together", Ok(3)}));
}

// Sole interest under churn: clients on both gateways (three workers)
// join, leave and send in a random but fixed sequence, one step at a time
// (each waits for its ok), so grants move between workers again and again.
// Every message must reach exactly the members of its group at the moment
// it was sent: nobody missed (a join's ok came after any holder released),
// nobody extra, nothing twice. (A message still travelling when someone
// joins may reach the joiner as well; the test lets such messages land
// before each join, so that "exactly" is well defined.)
TEST_F(GatewayIntegrationTest, SoleInterestChurnDeliversToExactlyTheMembers) {
  constexpr int kClients = 8, kGroups = 4, kSteps = 120;
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(ws_.Connect(i < 3 ? gw1_.uri() : gw2_.uri()));
    ASSERT_GE(clients.back(), 0);
  }
  std::vector<std::set<int>> joined(kClients);  // groups per client
  std::vector<std::vector<std::string>> expected(kClients);
  auto real = [this](int c) {
    std::vector<std::string> out;
    for (const std::string& m : ws_.Messages(c)) {
      if (m.rfind("m-", 0) == 0) out.push_back(m);
    }
    return out;
  };
  // Waits until client k has every message expected so far.
  auto settle = [&](int k) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(10);
    while (real(clients[k]).size() < expected[k].size() &&
           std::chrono::steady_clock::now() < deadline) {
      ws_.WaitForMessages(clients[k], ws_.MessageCount(clients[k]) + 1,
                          std::chrono::milliseconds(100));
    }
  };
  uint32_t rng = 12345;
  auto next = [&rng](uint32_t n) {
    rng = rng * 1103515245u + 12345u;
    return (rng >> 16) % n;
  };
  int id = 100;
  for (int step = 0; step < kSteps; ++step) {
    const int k = static_cast<int>(next(kClients));
    const std::string group = absl::StrCat("churn", next(kGroups));
    const uint32_t action = next(10);
    const std::string sid = std::to_string(++id);
    if (action < 4) {
      if (joined[k].size() >= 2 || joined[k].count(group[5] - '0')) continue;
      // A message sent before the join may still be on its way to the
      // joiner's worker (its other members), and then reaches the joiner
      // too: allowed, but not what this test counts. Let it land first.
      for (int m = 0; m < kClients; ++m) {
        if (joined[m].count(group[5] - '0')) settle(m);
      }
      ASSERT_EQ(ws_.Request(clients[k], Join(group, id), sid), Ok(id));
      joined[k].insert(group[5] - '0');
    } else if (action < 6) {
      if (!joined[k].count(group[5] - '0')) continue;
      settle(k);  // what was sent while it was a member arrives first
      ASSERT_EQ(ws_.Request(clients[k],
                            absl::StrCat(R"({"cmd":"leave_group","group_id":")",
                                         group, R"(","id":)", id, "}"),
                            sid),
                Ok(id));
      joined[k].erase(group[5] - '0');
    } else {
      const std::string text = absl::StrCat("m-", step);
      ASSERT_EQ(
          ws_.Request(
              clients[k],
              absl::StrCat(R"({"cmd":"send_to_group","group_id":")", group,
                           R"(","message":")", text, R"(","id":)", id, "}"),
              sid),
          Ok(id));
      for (int m = 0; m < kClients; ++m) {
        if (joined[m].count(group[5] - '0')) expected[m].push_back(text);
      }
    }
  }
  for (int k = 0; k < kClients; ++k) {
    settle(k);
    // A round trip on its own link: nothing else is on its way.
    const std::string sid = std::to_string(++id);
    ASSERT_EQ(ws_.Request(clients[k], Join("barrier", id), sid), Ok(id));
    auto got = real(clients[k]);
    std::sort(got.begin(), got.end());
    std::sort(expected[k].begin(), expected[k].end());
    EXPECT_EQ(got, expected[k]) << "client " << k;
  }
  // The churn did move grants around (not a vacuous pass).
  EXPECT_GT(broker_.Metric("channel_broker_sole_revokes_total"), 0);
  EXPECT_GT(gw1_.Metric("channel_gateway_sole_publishes_total") +
                gw2_.Metric("channel_gateway_sole_publishes_total"),
            0);
}

TEST_F(GatewayIntegrationTest, LeaveAndCloseCleanupVisibleInMetrics) {
  const int a = ws_.Connect(gw1_.uri());
  const int b = ws_.Connect(gw1_.uri());
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_EQ(ws_.Request(a, Join("g1", 1), "1"), Ok(1));
  ASSERT_EQ(ws_.Request(a, Join("g2", 2), "2"), Ok(2));
  ASSERT_EQ(ws_.Request(b, Join("g2", 3), "3"), Ok(3));
  EXPECT_EQ(gw1_.Metric("channel_gateway_groups"), 2);
  // + all + the worker's node channel (application actions).
  EXPECT_EQ(gw1_.Metric("channel_gateway_broker_subscriptions"), 4);
  // Broker: "all" and a node channel per worker link (gw1 has one, gw2
  // two) + gw1's two groups.
  EXPECT_EQ(broker_.Metric("channel_broker_subscriptions"), 8);

  ASSERT_EQ(
      ws_.Request(a, R"({"cmd":"leave_group","group_id":"g1","id":4})", "4"),
      Ok(4));
  // A publish acknowledged by the broker after the unsubscribe (same link,
  // in order) proves the broker has processed it.
  ASSERT_EQ(
      ws_.Request(
          a, R"({"cmd":"send_to_group","group_id":"g2","message":"m","id":5})",
          "5"),
      Ok(5));
  EXPECT_EQ(gw1_.Metric("channel_gateway_groups"), 1);
  EXPECT_EQ(broker_.Metric("channel_broker_subscriptions"), 7);
  // g1 messages no longer reach a.
  const int c = ws_.Connect(gw2_.uri());
  ASSERT_TRUE(ws_.Send(c, SendTo("g1", "nobody")));

  size_t from = 0;
  ws_.Abort(a);  // abrupt
  ws_.Close(b);  // clean
  ASSERT_TRUE(
      gw1_.process->WaitForLine("conn [0-9]+ closed", seconds(10), &from));
  ASSERT_TRUE(
      gw1_.process->WaitForLine("conn [0-9]+ closed", seconds(10), &from));
  EXPECT_EQ(gw1_.Metric("channel_gateway_connections"), 0);
  EXPECT_EQ(gw1_.Metric("channel_gateway_groups"), 0);
  EXPECT_EQ(gw1_.Metric("channel_gateway_broker_subscriptions"), 2);
  EXPECT_GE(gw1_.Metric("channel_gateway_leaves_total"), 3);
  // Round trip through gw1's link to the broker, then check the broker.
  const int d = ws_.Connect(gw1_.uri());
  ASSERT_EQ(
      ws_.Request(d, R"({"cmd":"send_to_all","message":"sync","id":6})", "6"),
      Ok(6));
  EXPECT_EQ(broker_.Metric("channel_broker_subscriptions"), 6);
  // "all" and the three links' node channels.
  EXPECT_EQ(broker_.Metric("channel_broker_channels"), 4);
}

}  // namespace
}  // namespace channel::testing
