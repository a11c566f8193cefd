// Shared channel interest between cluster brokers (docs/PROTOCOL.md
// "Cluster mode"): a publish no other broker wants never goes to NATS, and
// a Subscribe acknowledged on one broker gets every publish entering any
// other broker after the Ack, including after a broker crashed.
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/broker/broker_fixture.h"
#include "tests/support/clients/test_broker_client.h"

namespace channel::testing {
namespace {

using std::chrono::seconds;

class ClusterInterestSharingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const int nats_port = FreePort();
    nats_ = DaemonProcess::Start(
        CHANNEL_NATS_SERVER_BIN,
        {"-a", "127.0.0.1", "-p", std::to_string(nats_port)});
    const std::string flag =
        absl::StrCat("--nats=nats://127.0.0.1:", nats_port);
    for (int i = 0; i < 3; ++i) {
      brokers_.push_back(BrokerProcess::Start({flag}));
    }
    for (BrokerProcess& b : brokers_) {
      ASSERT_TRUE(b.process->WaitForLine("NATS connected", seconds(10)))
          << b.process->Output();
    }
    // Every broker has heard the two others (within the start-up window
    // on any sane machine; waited for here so a loaded one cannot make
    // the tests below test that bound instead).
    for (int i = 0; i < 3; ++i) {
      ASSERT_EQ(
          brokers_[i].WaitMetric("channel_broker_cluster_interest_brokers", 2),
          2);
    }
  }
  double Out(int broker) {
    return brokers_[broker].Metric(
        R"(channel_broker_nats_messages_total{direction="out"})");
  }
  double Skipped(int broker) {
    return brokers_[broker].Metric(
        "channel_broker_cluster_publishes_skipped_total");
  }
  std::unique_ptr<DaemonProcess> nats_;
  std::vector<BrokerProcess> brokers_;
};

TEST_F(ClusterInterestSharingTest,
       SubscribedOnOneBrokerGetsWhatAnotherTakesAfter) {
  TestBrokerClient subscriber(brokers_[1].port);
  TestBrokerClient publisher(brokers_[0].port);
  ASSERT_TRUE(subscriber.WaitConnected());
  ASSERT_TRUE(publisher.WaitConnected());
  // Each round: a channel nobody had, subscribed on broker 1 (the Ack is
  // the promise), then at once one publish entering broker 0.
  constexpr int kRounds = 50;
  for (int i = 0; i < kRounds; ++i) {
    const std::string channel = absl::StrCat("fresh-", i);
    ASSERT_TRUE(subscriber.Subscribe({channel}).ok());
    ASSERT_TRUE(publisher.Publish(channel, absl::StrCat("m", i)).ok());
  }
  const auto got = subscriber.WaitForEvents(kRounds);
  ASSERT_EQ(got.size(), static_cast<size_t>(kRounds));
  for (int i = 0; i < kRounds; ++i) {
    EXPECT_EQ(got[i].channel, absl::StrCat("fresh-", i));
    EXPECT_EQ(got[i].payload, absl::StrCat("m", i));
  }
}

TEST_F(ClusterInterestSharingTest, APublishNobodyElseWantsStaysOnItsBroker) {
  TestBrokerClient subscriber(brokers_[2].port);
  TestBrokerClient publisher(brokers_[0].port);
  ASSERT_TRUE(subscriber.WaitConnected());
  ASSERT_TRUE(publisher.WaitConnected());
  ASSERT_TRUE(subscriber.Subscribe({"wanted"}).ok());
  TestBrokerClient local(brokers_[0].port);
  ASSERT_TRUE(local.WaitConnected());
  ASSERT_TRUE(local.Subscribe({"local-only"}).ok());
  // Broker 0 skips once its view is whole: its start-up window passed
  // (its Ack waited for that) and both others' sets are in.
  ASSERT_EQ(
      brokers_[0].WaitMetric("channel_broker_cluster_interest_selective", 1),
      1);
  const double out = Out(0), skipped = Skipped(0);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(publisher.Publish("local-only", "x").ok());
    ASSERT_TRUE(publisher.Publish("nobody", "x").ok());
  }
  EXPECT_EQ(Out(0), out);  // not one event left broker 0
  EXPECT_EQ(Skipped(0), skipped + 40);
  EXPECT_EQ(local.WaitForEvents(20).size(), 20u);
  // One with interest elsewhere goes once.
  ASSERT_TRUE(publisher.Publish("wanted", "w").ok());
  EXPECT_EQ(Out(0), out + 1);
  ASSERT_EQ(subscriber.WaitForEvents(1).size(), 1u);
  EXPECT_EQ(brokers_[0].Metric("channel_broker_cluster_interest_brokers"), 2);
}

TEST_F(ClusterInterestSharingTest, ACrashedBrokerHoldsNoAckAndIsDroppedAtOnce) {
  TestBrokerClient subscriber(brokers_[1].port);
  TestBrokerClient publisher(brokers_[0].port);
  ASSERT_TRUE(subscriber.WaitConnected());
  ASSERT_TRUE(publisher.WaitConnected());
  ASSERT_TRUE(subscriber.Subscribe({"before"}).ok());
  // Broker 2 dies without a word: no BYE; broker 1's next Subscribe waits
  // for it until NATS says it has no connection (a probe), not for the
  // 5-second expiry of its heartbeats.
  brokers_[2].process->Signal(SIGKILL);
  brokers_[2].process->Wait(seconds(10));
  ASSERT_TRUE(subscriber.Subscribe({"after"}).ok());
  ASSERT_TRUE(publisher.Publish("after", "a").ok());
  const auto got = subscriber.WaitForEvents(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "a");
  EXPECT_EQ(
      brokers_[1].Metric(
          R"(channel_broker_cluster_interest_dropped_total{reason="gone"})"),
      1);
  EXPECT_EQ(brokers_[1].Metric("channel_broker_cluster_interest_brokers"), 1);
}

TEST_F(ClusterInterestSharingTest, ABrokerThatStopsSaysSo) {
  TestBrokerClient subscriber(brokers_[1].port);
  ASSERT_TRUE(subscriber.WaitConnected());
  ASSERT_TRUE(subscriber.Subscribe({"x"}).ok());
  brokers_[2].process->Signal(SIGTERM);
  ASSERT_EQ(brokers_[2].process->Wait(seconds(30)), std::optional<int>(0));
  // Dropped by its BYE (an expiry would take 5 s and count otherwise).
  EXPECT_EQ(
      brokers_[1].WaitMetric("channel_broker_cluster_interest_brokers", 1), 1);
  EXPECT_EQ(
      brokers_[1].Metric(
          R"(channel_broker_cluster_interest_dropped_total{reason="bye"})"),
      1);
}

// A rolling upgrade: a broker without shared interest (here turned off)
// tells no interest, but is heard sharing presence; the others then forward
// everything, as before sharing existed.
TEST(ClusterInterestUpgradeTest, ABrokerThatSharesNoInterestGetsEverything) {
  const int nats_port = FreePort();
  auto nats = DaemonProcess::Start(
      CHANNEL_NATS_SERVER_BIN,
      {"-a", "127.0.0.1", "-p", std::to_string(nats_port)});
  const std::string flag = absl::StrCat("--nats=nats://127.0.0.1:", nats_port);
  BrokerProcess sharing = BrokerProcess::Start({flag});
  BrokerProcess old =
      BrokerProcess::Start({flag, "--nats_interest_window_ms=0"});
  TestBrokerClient subscriber(old.port);
  TestBrokerClient publisher(sharing.port);
  ASSERT_TRUE(subscriber.WaitConnected());
  ASSERT_TRUE(publisher.WaitConnected());
  ASSERT_TRUE(subscriber.Subscribe({"x"}).ok());
  // Past its window (its own Subscribe's Ack waited for it) and knowing of
  // the other broker through presence:
  TestBrokerClient local(sharing.port);
  ASSERT_TRUE(local.WaitConnected());
  ASSERT_TRUE(local.Subscribe({"y"}).ok());
  ASSERT_EQ(sharing.WaitMetric("channel_broker_cluster_presence_brokers", 1),
            1);
  ASSERT_TRUE(publisher.Publish("x", "to-old").ok());
  const auto got = subscriber.WaitForEvents(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "to-old");
  EXPECT_EQ(sharing.Metric("channel_broker_cluster_publishes_skipped_total"),
            0);
}

}  // namespace
}  // namespace channel::testing
