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
#include "tests/support/credentials/test_tokens.h"

namespace channel::testing {
namespace {

const std::string kSecret = "0123456789abcdef0123456789abcdef";

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

}  // namespace
}  // namespace channel::testing
