#ifndef CHANNEL_TESTS_CLUSTER_CLUSTER_HISTORY_FIXTURE_H_
#define CHANNEL_TESTS_CLUSTER_CLUSTER_HISTORY_FIXTURE_H_

#include <signal.h>

#include <algorithm>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/cluster/cluster_fixture.h"
#include "tests/gateway/link/history_json.h"

// Brokers on a 3-node NATS JetStream cluster with history rules: what
// cluster_history_test.cc and cluster_history_burst_test.cc share.
namespace channel::testing {

inline std::string Send(const std::string& group, const std::string& text) {
  return absl::StrCat(R"({"cmd":"send_to_group","group_id":")", group,
                      R"(","message":")", text, R"("})");
}

class ClusterHistoryTest : public ClusterTest {
 protected:
  void SetUp() override {
    jetstream_ = true;
    for (auto& flags : broker_flags_) {
      flags.push_back("--history=room-burst:size=10");
      flags.push_back("--history=room-*:size=1000");
    }
    for (auto& flags : gateway_flags_) {
      flags.insert(flags.end(),
                   {"--rate_limit_per_sec=100000", "--rate_limit_burst=100000",
                    "--rate_limit_bytes_per_sec=0"});
    }
    ClusterTest::SetUp();
    if (HasFatalFailure()) return;
    // Each broker set its streams up (JetStream elects its leaders
    // first) and is ready: polled, at most 60 s.
    for (auto& b : brokers_) {
      const auto deadline = std::chrono::steady_clock::now() + seconds(60);
      size_t from = 0;  // paced by the broker's next log line, or 200 ms
      while (b.Metric("channel_broker_history_jetstream_ready") != 1 &&
             std::chrono::steady_clock::now() < deadline) {
        b.process->WaitForLine(".", milliseconds(200), &from);
      }
      ASSERT_EQ(b.Metric("channel_broker_history_jetstream_ready"), 1)
          << b.process->Output();
    }
  }

  // Sends `text` to `group` through `c` with an id until the gateway says
  // ok (while JetStream elects a new leader a publish may be refused or
  // left unconfirmed): at most 60 s.
  void SendOk(int c, const std::string& group, const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(60);
    std::string reply;
    while (std::chrono::steady_clock::now() < deadline) {
      const int id = next_id_++;
      reply = ws_.Request(
          c,
          absl::StrCat(R"({"cmd":"send_to_group","group_id":")", group,
                       R"(","message":")", text, R"(","id":)", id, "}"),
          std::to_string(id), seconds(15));
      if (reply == Ok(id)) return;
      ws_.WaitForMessages(c, ws_.MessageCount(c) + 1, milliseconds(200));
    }
    FAIL() << "'" << text << "' never confirmed; last reply: " << reply;
  }

  // Joins `c` to `group` (id 1): the ok carries the group's position.
  void JoinOk(int c, const std::string& group) {
    const std::string reply =
        ws_.Request(c,
                    absl::StrCat(R"({"cmd":"add_group","group_id":")", group,
                                 R"(","id":1})"),
                    "1");
    ASSERT_EQ(reply.rfind(R"({"id":1,"ok":true,"offset":)", 0), 0u)
        << "connection " << c << ": " << reply;
  }

  // Waits until `c` has received `text` as a delivery (raw framing) or
  // 30 s pass.
  void WaitLong(int c, const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      auto got = Real(c);
      if (std::count(got.begin(), got.end(), text) > 0) return;
      ws_.WaitForMessages(c, ws_.MessageCount(c) + 1, milliseconds(200));
    }
  }
  // The gap notices `c` got that name `group` (its history was not
  // resumed).
  int GapsNaming(int c, const std::string& group) {
    int n = 0;
    for (const auto& m : ws_.Messages(c)) {
      if (IsGap(m) &&
          m.find(absl::StrCat("\"", group, "\"")) != std::string::npos) {
        ++n;
      }
    }
    return n;
  }

  // The history and delivery metrics of every broker and gateway.
  std::string Diagnostics() {
    std::string out;
    auto pick = [&out](const std::string& who, const std::string& text) {
      for (absl::string_view line : absl::StrSplit(text, '\n')) {
        if (!line.empty() && line[0] != '#' &&
            (absl::StrContains(line, "history") ||
             absl::StrContains(line, "gap") ||
             absl::StrContains(line, "duplicates") ||
             absl::StrContains(line, "delivered") ||
             absl::StrContains(line, "slow") ||
             absl::StrContains(line, "dropped"))) {
          absl::StrAppend(&out, who, " ", line, "\n");
        }
      }
    };
    for (size_t i = 0; i < brokers_.size(); ++i) {
      pick(absl::StrCat("broker", i), brokers_[i].Metrics());
    }
    for (size_t i = 0; i < gateways_.size(); ++i) {
      pick(absl::StrCat("gateway", i), gateways_[i].Metrics());
    }
    return out;
  }

  int next_id_ = 100;
};

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_CLUSTER_CLUSTER_HISTORY_FIXTURE_H_
