#ifndef CHANNEL_TESTS_GATEWAY_PRESENCE_PRESENCE_MEMBERS_FIXTURE_H_
#define CHANNEL_TESTS_GATEWAY_PRESENCE_PRESENCE_MEMBERS_FIXTURE_H_

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

// A broker with --presence rules and gateways with token users: what
// presence_members_test.cc and presence_departures_test.cc share.
namespace channel::testing {

inline std::string MemberToken(const std::string& sub,
                               const std::string& info) {
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
inline MemberEvent ParseEvent(const std::string& m) {
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

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_GATEWAY_PRESENCE_PRESENCE_MEMBERS_FIXTURE_H_
