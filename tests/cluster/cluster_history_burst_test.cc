// History in a cluster under bursts: a burst into one group is whole or
// told; a feed that overflows a group's limit is followed again, losing
// nothing silently.
#include "tests/cluster/cluster_history_fixture.h"

namespace channel::testing {
namespace {

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
