// History in a cluster (issue 21): brokers on a 3-node NATS JetStream
// cluster, history groups stored there (R3). A broker SIGKILLed under its
// gateway: the gateway resumes its members through another broker with
// nothing lost and nothing twice; a member that comes back on another
// gateway (another broker) with since gets exactly what it missed; a NATS
// node SIGKILLed keeps history, and members see exactly what history holds.
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

namespace channel::testing {
namespace {

uint64_t OffsetOf(const std::string& json) {
  std::smatch m;
  return std::regex_search(json, m, std::regex(R"("offset":(\d+))"))
             ? std::stoull(m[1])
             : 0;
}
std::string Field(const std::string& json, const std::string& key) {
  std::smatch m;
  return std::regex_search(
             json, m, std::regex(absl::StrCat("\"", key, R"(":"([^"]*)\")")))
             ? std::string(m[1])
             : "";
}
std::string Send(const std::string& group, const std::string& text) {
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

TEST_F(ClusterHistoryTest, BrokerKilledMembersMissNothingAndRoamerRecovers) {
  const std::string group = "room-k";
  constexpr int kPerGateway = 20;
  std::vector<int> members[3];
  for (int g = 0; g < 3; ++g) {
    for (int k = 0; k < kPerGateway; ++k) {
      const int c = ws_.Connect(gateways_[g].uri());
      ASSERT_GE(c, 0);
      JoinOk(c, group);
      if (HasFatalFailure()) return;
      members[g].push_back(c);
    }
  }
  // A member with JSON framing (offsets) on gateway 0.
  int roamer = ws_.Connect(gateways_[0].uri() + "/?format=json");
  ASSERT_GE(roamer, 0);
  const std::string joined = ws_.Request(
      roamer,
      absl::StrCat(R"({"cmd":"add_group","group_id":")", group, R"(","id":1})"),
      "1");
  ASSERT_NE(joined.find("\"epoch\""), std::string::npos) << joined;
  const int s1 = ws_.Connect(gateways_[1].uri());
  const int s2 = ws_.Connect(gateways_[2].uri());
  ASSERT_GE(s1, 0);
  ASSERT_GE(s2, 0);

  std::vector<std::string> sent;
  auto send = [&](const std::string& prefix, int i) {
    sent.push_back(absl::StrCat(prefix, i));
    ASSERT_TRUE(ws_.Send(i % 2 ? s1 : s2, Send(group, sent.back())));
  };
  for (int i = 0; i < 30; ++i) send("a", i);
  for (int c : members[1]) WaitLong(c, "a29");
  // The roamer leaves after a29 (in whatever order the stream has it,
  // it saw everything up to its last delivery) and remembers where.
  std::string roamer_last;
  {
    const auto deadline = std::chrono::steady_clock::now() + seconds(30);
    for (;;) {
      bool seen = false;
      for (const auto& m : ws_.Messages(roamer)) {
        if (Field(m, "type") == "message") {
          roamer_last = m;
          if (Field(m, "message") == "a29") seen = true;
        }
      }
      if (seen || std::chrono::steady_clock::now() >= deadline) break;
      ws_.WaitForMessages(roamer, ws_.MessageCount(roamer) + 1,
                          milliseconds(200));
    }
  }
  ASSERT_FALSE(roamer_last.empty());
  const uint64_t roamer_offset = OffsetOf(roamer_last);
  const std::string roamer_epoch = Field(roamer_last, "epoch");
  ASSERT_GT(roamer_offset, 0u) << roamer_last;
  ws_.Close(roamer);

  // Gateway 0's broker dies while the stream goes on from the others.
  size_t from = 0;
  brokers_[0].process->Signal(SIGKILL);
  for (int i = 0; i < 30; ++i) send("b", i);
  ASSERT_TRUE(
      gateways_[0].process->WaitForLine("broker link up", seconds(30), &from))
      << gateways_[0].process->Output();
  for (int i = 0; i < 10; ++i) send("c", i);

  // The roamer comes back on gateway 1 (broker 1) from where it was.
  roamer = ws_.Connect(gateways_[1].uri() + "/?format=json");
  ASSERT_GE(roamer, 0);
  const std::string resumed =
      ws_.Request(roamer,
                  absl::StrCat(R"({"cmd":"add_group","group_id":")", group,
                               R"(","id":2,"since":{"offset":)", roamer_offset,
                               R"(,"epoch":")", roamer_epoch, R"("}})"),
                  "2");
  EXPECT_NE(resumed.find("\"recovered\":true"), std::string::npos) << resumed;

  for (int g = 0; g < 3; ++g) {
    for (int c : members[g]) WaitLong(c, "c9");
  }
  // Everyone has the same sequence: every message once, in the stream's
  // order (two publishers: JetStream's order, the same for all).
  const std::vector<std::string> reference = Real(members[1][0]);
  std::vector<std::string> sorted_ref = reference, sorted_sent = sent;
  std::sort(sorted_ref.begin(), sorted_ref.end());
  std::sort(sorted_sent.begin(), sorted_sent.end());
  ASSERT_EQ(sorted_ref, sorted_sent);
  for (int g = 0; g < 3; ++g) {
    for (int c : members[g]) {
      EXPECT_EQ(Real(c), reference) << "member " << c << " of gateway " << g;
      EXPECT_EQ(GapsNaming(c, group), 0) << "member " << c;
    }
  }
  // The roamer: exactly what followed its position, in order.
  const auto at = std::find(reference.begin(), reference.end(),
                            Field(roamer_last, "message"));
  ASSERT_NE(at, reference.end());
  const std::vector<std::string> missed(at + 1, reference.end());
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  std::vector<std::string> got;
  for (;;) {
    got.clear();
    for (const auto& m : ws_.Messages(roamer)) {
      if (Field(m, "type") == "message") got.push_back(Field(m, "message"));
    }
    if (got.size() >= missed.size() ||
        std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    ws_.WaitForMessages(roamer, ws_.MessageCount(roamer) + 1,
                        milliseconds(200));
  }
  EXPECT_EQ(got, missed);
}

TEST_F(ClusterHistoryTest, NatsNodeKilledHistoryKeptMembersSeeWhatItHolds) {
  const std::string group = "room-n";
  const int member = ws_.Connect(gateways_[0].uri());
  const int sender = ws_.Connect(gateways_[0].uri());
  const int reader = ws_.Connect(gateways_[1].uri());
  ASSERT_GE(member, 0);
  ASSERT_GE(sender, 0);
  ASSERT_GE(reader, 0);
  JoinOk(member, group);
  if (HasFatalFailure()) return;
  std::vector<std::string> sent;
  for (int i = 0; i < 20; ++i) {
    sent.push_back(absl::StrCat("n", i));
    SendOk(sender, group, sent.back());
    if (HasFatalFailure()) return;
  }
  // A NATS node (not the member's broker's) dies: the streams' leaders
  // may move; history (R3) stays.
  nats_[2]->Signal(SIGKILL);
  for (int i = 20; i < 40; ++i) {
    sent.push_back(absl::StrCat("n", i));
    SendOk(sender, group, sent.back());
    if (HasFatalFailure()) return;
  }
  WaitLong(member, "n39");
  // What history holds: read through another gateway and broker.
  std::string reply;
  std::vector<std::string> held;
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  for (int id = 500;; ++id) {
    reply = ws_.Request(reader,
                        absl::StrCat(R"({"cmd":"history","group_id":")", group,
                                     R"(","limit":1000,"id":)", id, "}"),
                        std::to_string(id));
    held.clear();
    std::regex message(R"("message":"([^"]*)\")");
    for (auto it = std::sregex_iterator(reply.begin(), reply.end(), message);
         it != std::sregex_iterator(); ++it) {
      held.push_back((*it)[1]);
    }
    if ((!held.empty() && held.back() == "n39") ||
        std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    ws_.WaitForMessages(reader, ws_.MessageCount(reader) + 1,
                        milliseconds(200));
  }
  // Every confirmed message is held, in order (a publish left unconfirmed
  // by the election and sent again may be held twice: then the member got
  // it twice too, never differently from history).
  std::vector<std::string> firsts;
  std::set<std::string> seen;
  for (const auto& m : held) {
    if (seen.insert(m).second) firsts.push_back(m);
  }
  EXPECT_EQ(firsts, sent) << reply;
  EXPECT_EQ(Real(member), held);
  EXPECT_EQ(GapsNaming(member, group), 0);
}

// A burst into one group of a small history rule (JetStream keeps
// 2 x 10 + 100 events of it): whatever the brokers' feeds manage, every
// member gets the stream in order with nothing twice, and a member that
// did not get all of what the brokers accepted was told so (a gap notice
// naming the group): never silently partial. Sends refused to the sender
// (told to it) are nobody's loss.
TEST_F(ClusterHistoryTest, ABurstIntoOneGroupIsWholeOrTold) {
  const std::string group = "room-burst";
  std::vector<int> members;
  for (int g = 0; g < 3; ++g) {
    for (int k = 0; k < 20; ++k) {
      const int c = ws_.Connect(gateways_[g].uri());
      ASSERT_GE(c, 0);
      JoinOk(c, group);
      if (HasFatalFailure()) return;
      members.push_back(c);
    }
  }
  const int sender = ws_.Connect(gateways_[1].uri());
  ASSERT_GE(sender, 0);
  std::vector<std::string> sent;
  for (int i = 0; i < 1500; ++i) {
    sent.push_back(absl::StrCat("b", i));
    ASSERT_TRUE(ws_.Send(sender, Send(group, sent.back())));
  }
  // A marker after the burst, confirmed: once every member has it (or was
  // told of a gap), the burst is over for it.
  SendOk(sender, group, "end");
  if (HasFatalFailure()) return;
  // Sends the broker refused (backpressure while JetStream confirms the
  // burst) were told to the sender, one error each (its replies come in
  // order, so all are here once "end" is confirmed): nobody was to get
  // them. A member must get every accepted one, or be told.
  size_t refused = 0;
  for (const std::string& m : ws_.Messages(sender)) {
    // The burst's sends had no id; SendOk's retries of "end" have one.
    refused += m.find(R"("error")") != std::string::npos &&
                       m.find(R"("id":)") == std::string::npos
                   ? 1
                   : 0;
  }
  const size_t accepted = sent.size() - refused;
  for (int c : members) {
    // Until it has the marker, or was told of a gap (after which the
    // marker itself may be what it missed): at most 30 s.
    const auto deadline = std::chrono::steady_clock::now() + seconds(30);
    for (;;) {
      auto got = Real(c);
      if (std::count(got.begin(), got.end(), "end") > 0 ||
          GapsNaming(c, group) > 0 ||
          std::chrono::steady_clock::now() >= deadline) {
        break;
      }
      ws_.WaitForMessages(c, ws_.MessageCount(c) + 1, milliseconds(200));
    }
    const std::vector<std::string> got = Real(c);
    size_t next = 0;
    for (const std::string& m : got) {
      if (m == "end") continue;
      while (next < sent.size() && sent[next] != m) ++next;
      ASSERT_LT(next, sent.size())
          << "member " << c << ": '" << m << "' twice or out of order";
      ++next;
    }
    const size_t burst = got.size() - std::count(got.begin(), got.end(), "end");
    if (burst < accepted) {
      EXPECT_GE(GapsNaming(c, group), 1)
          << "member " << c << " got " << burst << " of " << accepted
          << " accepted (" << sent.size() << " sent) and was not told\n"
          << Diagnostics();
    }
  }
}

// Broker 0 takes events from NATS through an inbox of a few KiB. It is
// stopped (SIGSTOP) while a burst is stored, so that on SIGCONT its feed
// delivers hundreds of events at once, whatever the machine's speed: the
// inbox overflows and the feed is followed again from the first event it
// has not applied. Its member gets everything once, in order.
class ClusterHistoryOverflowTest : public ClusterHistoryTest {
 protected:
  void SetUp() override {
    broker_flags_[0].push_back("--nats_max_inbox_bytes=4096");
    ClusterHistoryTest::SetUp();
  }
};

TEST_F(ClusterHistoryOverflowTest,
       AnOverflowingFeedIsFollowedAgainLosingNothing) {
  const std::string group = "room-o";
  const int member = ws_.Connect(gateways_[0].uri());
  const int sender = ws_.Connect(gateways_[1].uri());
  ASSERT_GE(member, 0);
  ASSERT_GE(sender, 0);
  JoinOk(member, group);
  if (HasFatalFailure()) return;
  // 400 messages of 200 bytes, stored while broker 0 is stopped; the
  // confirmed marker after them means all are in the stream. (A failed
  // assertion leaves broker 0 stopped: the fixture SIGKILLs it.)
  // Each send has an id (1000 + i): a send the broker refused with
  // backpressure (JetStream confirming slowly on a loaded machine) was
  // nobody's to get; the member must get exactly the accepted ones.
  brokers_[0].process->Signal(SIGSTOP);
  const std::string pad(200, 'x');
  std::vector<std::string> sent;
  for (int i = 0; i < 400; ++i) {
    sent.push_back(absl::StrCat("o", i, "-", pad));
    ASSERT_TRUE(
        ws_.Send(sender, absl::StrCat(R"({"cmd":"send_to_group","group_id":")",
                                      group, R"(","message":")", sent.back(),
                                      R"(","id":)", 1000 + i, "}")));
  }
  SendOk(sender, group, "end");
  if (HasFatalFailure()) return;
  brokers_[0].process->Signal(SIGCONT);
  // Replies come in order: all 400 are in before the marker's ok.
  std::set<std::string> replied_ok;
  for (const std::string& m : ws_.Messages(sender)) replied_ok.insert(m);
  std::vector<std::string> accepted;
  for (int i = 0; i < 400; ++i) {
    if (replied_ok.count(Ok(1000 + i)) > 0) accepted.push_back(sent[i]);
  }
  ASSERT_GE(accepted.size(), 32u) << "the brokers refused most of the burst";
  WaitLong(member, "end");
  // SendOk may have sent "end" more than once (a publish left
  // unconfirmed is sent again): the burst is what precedes the first.
  std::vector<std::string> got = Real(member);
  got.erase(std::find(got.begin(), got.end(), "end"), got.end());
  EXPECT_TRUE(got == accepted)
      << "got " << got.size() << " of " << accepted.size() << " accepted\n"
      << brokers_[0].Metrics() << brokers_[1].Metrics();
  EXPECT_GE(
      brokers_[0].Metric("channel_broker_history_jetstream_refollows_total"),
      1);
}

}  // namespace
}  // namespace channel::testing
