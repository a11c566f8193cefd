// The cluster tests' fixture: a 3-node nats-server cluster (routes; with
// JetStream when a test asks), 3 brokers each on its own node, 3 gateways
// each on its own broker with the others as fallbacks, WebSocket clients.
// Real processes on loopback.
#ifndef CHANNEL_TESTS_CLUSTER_CLUSTER_FIXTURE_H_
#define CHANNEL_TESTS_CLUSTER_CLUSTER_FIXTURE_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/gateway/gateway_fixture.h"
#include "tests/support/clients/test_broker_client.h"
#include "tests/support/clients/ws_test_clients.h"

namespace channel::testing {

using std::chrono::milliseconds;
using std::chrono::seconds;

inline int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (jetstream_) {
      std::string tmpl = "/tmp/channel-js-XXXXXX";
      ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
      js_dir_.path = tmpl;
    }
    for (int i = 0; i < 3; ++i) {
      client_ports_.push_back(FreePort());
      route_ports_.push_back(FreePort());
    }
    for (int i = 0; i < 3; ++i) StartNats(i);
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(
          nats_[i]->WaitForLine("Route connection created", seconds(10)))
          << nats_[i]->Output();
    }
    for (int i = 0; i < 3; ++i) {
      std::vector<std::string> flags = broker_flags_[i];
      flags.push_back(
          absl::StrCat("--nats=nats://127.0.0.1:", client_ports_[i]));
      brokers_.push_back(BrokerProcess::Start(flags));
      ASSERT_TRUE(
          brokers_[i].process->WaitForLine("NATS connected", seconds(10)));
    }
    for (int i = 0; i < 3; ++i) {
      std::vector<std::string> list;
      for (int k = 0; k < 3; ++k) {
        list.push_back(absl::StrCat("127.0.0.1:", brokers_[(i + k) % 3].port));
      }
      std::vector<std::string> flags = gateway_flags_[i];
      flags.push_back("--broker=" + absl::StrJoin(list, ","));
      gateways_.push_back(GatewayProcess::Start(brokers_[i].port, flags));
    }
  }

  void StartNats(int i) {
    std::vector<std::string> routes;
    for (int k = 0; k < 3; ++k) {
      if (k != i)
        routes.push_back(absl::StrCat("nats://127.0.0.1:", route_ports_[k]));
    }
    std::vector<std::string> args = {
        "-a",
        "127.0.0.1",
        "-p",
        std::to_string(client_ports_[i]),
        "--cluster_name",
        "channel-test",
        "-cluster",
        absl::StrCat("nats://127.0.0.1:", route_ports_[i]),
        "-routes",
        absl::StrJoin(routes, ",")};
    if (jetstream_) {
      // A JetStream cluster: named nodes, each with its own store (kept
      // across a restart of the node).
      args.insert(args.end(),
                  {"-js", "-sd", absl::StrCat(js_dir_.path, "/n", i), "-n",
                   absl::StrCat("n", i)});
    }
    auto node = DaemonProcess::Start(CHANNEL_NATS_SERVER_BIN, args);
    if (static_cast<int>(nats_.size()) > i) {
      nats_[i] = std::move(node);
    } else {
      nats_.push_back(std::move(node));
    }
  }

  // NATS spreads a new subscription to the other nodes asynchronously:
  // until a probe sent from `from` has reached every member of `group`,
  // keep sending probes (Real() leaves them out).
  void WaitRouted(int from, const std::string& group,
                  const std::vector<int>& members) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(20);
    std::vector<int> waiting = members;
    while (!waiting.empty() && std::chrono::steady_clock::now() < deadline) {
      ASSERT_TRUE(
          ws_.Send(from, absl::StrCat(R"({"cmd":"send_to_group","group_id":")",
                                      group, R"(","message":"probe"})")));
      ws_.WaitForMessages(waiting[0], ws_.MessageCount(waiting[0]) + 1,
                          milliseconds(100));
      std::vector<int> still;
      for (int m : waiting) {
        auto got = ws_.Messages(m);
        if (std::count(got.begin(), got.end(), "probe") == 0)
          still.push_back(m);
      }
      waiting = std::move(still);
    }
    if (waiting.empty()) return;
    // Say what the cluster saw: a route or an interest that never formed.
    FAIL() << "group " << group << " not routed across the cluster in 20 s\n"
           << Logs();
  }
  // The last lines of every NATS node's, broker's and gateway's output: what
  // the cluster saw, for a failure's message.
  std::string Logs() {
    auto tail = [](const std::string& text) {
      return text.size() > 4000 ? text.substr(text.size() - 4000) : text;
    };
    std::string logs;
    for (size_t i = 0; i < nats_.size(); ++i) {
      logs += absl::StrCat("--- nats ", i, ":\n", tail(nats_[i]->Output()));
    }
    for (size_t i = 0; i < brokers_.size(); ++i) {
      logs += absl::StrCat("--- broker ", i, ":\n",
                           tail(brokers_[i].process->Output()));
    }
    for (size_t i = 0; i < gateways_.size(); ++i) {
      logs += absl::StrCat("--- gateway ", i, ":\n",
                           tail(gateways_[i].process->Output()));
    }
    return logs;
  }
  // Waits until `c` has received `text` (a real message) or 10 s pass.
  void WaitFor(int c, const std::string& text) {
    WaitUntil(c, [&] {
      auto got = Real(c);
      return std::count(got.begin(), got.end(), text) > 0;
    });
  }
  // Until `done()` holds or 10 s pass, re-checked at each message `c` gets
  // (or every 100 ms).
  template <typename Done>
  void WaitUntil(int c, Done done) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(10);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      ws_.WaitForMessages(c, ws_.MessageCount(c) + 1, milliseconds(100));
    }
  }
  // Asks for `group`'s presence through connection `c` until the reply
  // has `want` (e.g. "\"connections\":6"), or 15 s pass: gateways report
  // every sweep and brokers share reports through NATS. Returns the last
  // reply.
  std::string WaitPresence(int c, const std::string& group,
                           const std::string& want) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(15);
    std::string reply;
    for (int id = 1000;; ++id) {
      reply = ws_.Request(c,
                          absl::StrCat(R"({"cmd":"presence","group_id":")",
                                       group, R"(","id":)", id, "}"),
                          std::to_string(id));
      if (reply.find(want) != std::string::npos ||
          std::chrono::steady_clock::now() >= deadline) {
        return reply;
      }
      // Paced by the next message or 100 ms, whichever comes first.
      ws_.WaitForMessages(c, ws_.MessageCount(c) + 1, milliseconds(100));
    }
  }
  // A member whose gateway changed broker mid-stream: told once that it may
  // have missed messages (never a silent gap), got a subsequence of
  // `stream` (nothing twice, nothing reordered), then every one of `after`.
  void ExpectMovedMember(int c, const std::vector<std::string>& stream,
                         const std::vector<std::string>& after) {
    // The notice goes out once the gateway's link is up again, which is
    // after its Subscribes are acknowledged: the new broker may deliver
    // before that. Wait for it (10 s at most).
    WaitUntil(c, [&] {
      const auto got = ws_.Messages(c);
      return std::count_if(got.begin(), got.end(), IsGap) > 0;
    });
    const auto all_got = ws_.Messages(c);
    EXPECT_EQ(std::count_if(all_got.begin(), all_got.end(), IsGap), 1)
        << "client " << c;
    const std::vector<std::string> got = Real(c);
    ASSERT_GE(got.size(), after.size()) << "client " << c;
    ASSERT_TRUE(
        std::equal(after.begin(), after.end(), got.end() - after.size()))
        << "client " << c;
    size_t next = 0;
    for (size_t k = 0; k + after.size() < got.size(); ++k) {
      while (next < stream.size() && stream[next] != got[k]) ++next;
      ASSERT_LT(next, stream.size())
          << "client " << c << ": '" << got[k] << "' twice or out of order";
      ++next;
    }
  }
  // Messages of `c` other than probes, acks and gap notices.
  std::vector<std::string> Real(int c) {
    std::vector<std::string> out;
    for (auto& m : ws_.Messages(c)) {
      if (m != "probe" && m.rfind("{\"id\"", 0) != 0 && !IsGap(m)) {
        out.push_back(m);
      }
    }
    return out;
  }
  static bool IsGap(const std::string& m) {
    return m.rfind(R"({"error":{"code":"gap")", 0) == 0;
  }

  // A directory removed with the fixture, after every process (declared
  // first: destroyed last).
  struct TempDir {
    std::string path;
    ~TempDir() {
      std::error_code ec;
      if (!path.empty()) std::filesystem::remove_all(path, ec);
    }
  };
  TempDir js_dir_;
  // Extra flags of each broker and gateway, and NATS with JetStream: set
  // before SetUp.
  bool jetstream_ = false;
  std::vector<std::vector<std::string>> broker_flags_{3}, gateway_flags_{3};
  std::vector<int> client_ports_, route_ports_;
  std::vector<std::unique_ptr<DaemonProcess>> nats_;
  std::vector<BrokerProcess> brokers_;
  std::vector<GatewayProcess> gateways_;
  WsTestClients ws_;
};

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_CLUSTER_CLUSTER_FIXTURE_H_
