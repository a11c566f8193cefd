// The websocketpp-free parts of a gateway worker: Admission, FanoutBatch,
// Membership (with its ShardLink not connected) and CommandDispatcher.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "asio/io_context.hpp"
#include "gateway/auth/admission.h"
#include "gateway/commands/command_dispatcher.h"
#include "gateway/fanout/fanout_batch.h"
#include "gateway/fanout/membership.h"
#include "gateway/link/shard_link.h"
#include "gateway/ws/ws_text_frame.h"
#include "gtest/gtest.h"

namespace channel {
namespace {

using Clock = ConnectionData::Clock;

// The per-source bound counts over all workers (shared limits), applies
// once half the budget is taken, and is given back by EndPending.
TEST(AdmissionTest, PendingHandshakesPerSource) {
  GatewayOptions options;
  options.max_pending_handshakes = 4;
  options.max_pending_handshakes_per_source = 2;
  GatewayLimits limits;
  WorkerStats stats1, stats2;
  Admission worker1(options, &limits, &stats1);
  Admission worker2(options, &limits, &stats2);
  ConnectionData a, b, c, d;
  EXPECT_EQ(worker1.OnAccepted(&a, "src"), Admission::Accept::kAdmit);
  EXPECT_EQ(worker2.OnAccepted(&b, "src"), Admission::Accept::kAdmit);
  EXPECT_EQ(worker1.OnAccepted(&c, "src"), Admission::Accept::kRefuse);
  EXPECT_EQ(worker2.OnAccepted(&d, "other"), Admission::Accept::kAdmit);
  worker1.EndPending(&c);
  EXPECT_EQ(stats1.handshakes_refused_pending_source, 1u);
  worker1.EndPending(&a);
  EXPECT_EQ(worker1.OnAccepted(&c, "src"), Admission::Accept::kAdmit);
  for (auto [w, con] : {std::pair{&worker1, &c}, std::pair{&worker2, &b},
                        std::pair{&worker2, &d}}) {
    w->EndPending(con);
  }
  EXPECT_EQ(limits.pending_handshakes, 0);
  std::lock_guard<std::mutex> lock(limits.pending_mu);
  EXPECT_TRUE(limits.pending_by_source.empty());
}

TEST(AdmissionTest, PendingCapConnectionCapOriginsAndShutdown) {
  GatewayOptions options;
  options.max_pending_handshakes = 1;
  options.max_connections = 2;
  options.allowed_origins = {"https://ok.example"};
  GatewayLimits limits;
  WorkerStats stats;
  Admission admission(options, &limits, &stats);
  ConnectionData a, b, c, d;
  EXPECT_EQ(admission.OnAccepted(&a, "x"), Admission::Accept::kAdmit);
  // Over the pending cap: the worker is to end its oldest for it.
  EXPECT_EQ(admission.OnAccepted(&b, "y"), Admission::Accept::kShedOldest);
  admission.EndPending(&b);

  EXPECT_TRUE(admission.Validate(&a, "https://ok.example", false).allowed);
  admission.EndPending(&a);
  EXPECT_EQ(limits.pending_handshakes, 0);
  auto refused = admission.Validate(&b, "https://evil.example", false);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.http_status, 403);
  EXPECT_EQ(limits.connections, 1);  // the refused one gave its slot back
  EXPECT_TRUE(admission.Validate(&c, "https://ok.example", false).allowed);
  auto full = admission.Validate(&d, "https://ok.example", false);
  EXPECT_EQ(full.http_status, 503);
  EXPECT_EQ(stats.handshakes_refused_full, 1u);
  admission.ReleaseSlot(&c);
  admission.ReleaseSlot(&c);  // idempotent
  EXPECT_EQ(limits.connections, 1);
  EXPECT_EQ(admission.Validate(&d, "https://ok.example", true).http_status,
            503);
  EXPECT_EQ(stats.handshakes_refused_shutdown, 1u);
}

Delivery MakeDelivery(bool to_all, std::string group, std::string payload,
                      std::vector<uint64_t> exclude = {}) {
  Delivery d;
  d.to_all = to_all;
  d.channel = std::move(group);
  d.payload = std::make_shared<const std::string>(std::move(payload));
  if (!exclude.empty()) d.mutable_rare().exclude = std::move(exclude);
  return d;
}

std::string Frames(std::vector<std::string> payloads) {
  std::string out;
  for (auto& p : payloads) AppendTextFrame(p, &out);
  return out;
}

TEST(FanoutBatchTest, SegmentsPerTargetInOrderSplitByExclusions) {
  std::vector<Delivery> batch;
  batch.push_back(MakeDelivery(false, "g", "1"));
  batch.push_back(MakeDelivery(false, "h", "x"));
  batch.push_back(MakeDelivery(false, "g", "2"));
  batch.push_back(MakeDelivery(false, "g", "3", {7}));
  batch.push_back(MakeDelivery(false, "gone", "dropped"));
  batch.push_back(MakeDelivery(true, "", "everyone"));
  FanoutBatch fanout;
  fanout.Build(batch, [](absl::string_view g) { return g != "gone"; });
  const auto targets = fanout.targets();
  ASSERT_EQ(targets.size(), 3u);  // in first-seen order: g, h, everyone
  EXPECT_EQ(targets[0].channel, "g");
  EXPECT_EQ(targets[1].channel, "h");
  EXPECT_TRUE(targets[2].to_all);
  const auto g = targets[0].live();
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].frames, Frames({"1", "2"}));
  EXPECT_EQ(g[0].count, 2u);
  EXPECT_EQ(g[1].frames, Frames({"3"}));
  EXPECT_TRUE(FanoutBatch::Excluded(g[1], 7));
  EXPECT_FALSE(FanoutBatch::Excluded(g[0], 7));
  EXPECT_EQ(targets[1].live()[0].frames, Frames({"x"}));
  EXPECT_EQ(targets[2].live()[0].frames, Frames({"everyone"}));
  // Reused: a second build starts empty, and buffers are refilled.
  std::vector<Delivery> next;
  next.push_back(MakeDelivery(false, "h", "y"));
  fanout.Build(next, [](absl::string_view) { return true; });
  ASSERT_EQ(fanout.targets().size(), 1u);
  EXPECT_EQ(fanout.targets()[0].channel, "h");
  ASSERT_EQ(fanout.targets()[0].live().size(), 1u);
  EXPECT_EQ(fanout.targets()[0].live()[0].frames, Frames({"y"}));
  EXPECT_TRUE(fanout.targets()[0].live()[0].exclude.empty());
}

// A worker's parts around a ShardLink that never connects (no broker).
class WorkerPartsTest : public ::testing::Test, public Authenticator::Host {
 protected:
  WorkerPartsTest()
      : link_(io_, 0, 1, BrokerClientOptions{}, "gw/0", &stats_, &limits_),
        membership_(2, 3, &link_, &stats_, &limits_),
        auth_(options_, nullptr, &membership_, &stats_, this),
        app_(io_, options_, "gw-0", 0, &link_, &membership_, &stats_, this),
        dispatcher_(options_, &link_, &membership_, &recoveries_, &auth_, &app_,
                    &stats_, this, &reporter_, &members_) {
    options_.rate_limit_close_after = 2;
  }
  ConnectionData* Find(uint64_t) override { return nullptr; }
  void CloseConnection(uint64_t conn_id, uint16_t code,
                       const std::string&) override {
    closed_[conn_id] = code;
  }
  void Reply(uint64_t conn_id, const std::string& text) override {
    replies_[conn_id].push_back(text);
  }

  GatewayOptions options_;
  asio::io_context io_;
  WorkerStats stats_;
  GatewayLimits limits_;
  ShardLink link_;
  Membership membership_;
  Recoveries recoveries_{1 << 20};
  PresenceReporter reporter_;
  MemberMirror members_;
  Authenticator auth_;
  AppBridge app_;
  CommandDispatcher dispatcher_;
  std::map<uint64_t, std::vector<std::string>> replies_;
  std::map<uint64_t, uint16_t> closed_;
};

TEST_F(WorkerPartsTest, MembershipKeepsTheBrokerSubscriptionInStep) {
  ConnectionData a, b;
  a.id = 1;
  b.id = 2;
  EXPECT_EQ(membership_.Join(&a, "g", nullptr),
            Membership::JoinResult::kJoined);
  EXPECT_EQ(stats_.broker_subscriptions, 1);  // first member: subscribed
  EXPECT_EQ(membership_.Join(&b, "g", nullptr),
            Membership::JoinResult::kJoined);
  EXPECT_EQ(membership_.Join(&b, "g", nullptr),
            Membership::JoinResult::kAlreadyMember);
  EXPECT_EQ(membership_.Join(&b, "h", nullptr),
            Membership::JoinResult::kJoined);
  EXPECT_EQ(membership_.Join(&b, "i", nullptr),
            Membership::JoinResult::kTooManyGroups);  // limit 2
  EXPECT_EQ(stats_.local_groups, 2);
  EXPECT_EQ(limits_.groups, 2);
  EXPECT_EQ(stats_.broker_subscriptions, 2);
  // The worker's limit (3) counts distinct groups: a third is taken, a
  // fourth refused, while joining one the worker holds still works.
  ConnectionData c;
  c.id = 3;
  EXPECT_EQ(membership_.Join(&c, "j", nullptr),
            Membership::JoinResult::kJoined);
  EXPECT_EQ(membership_.Join(&c, "k", nullptr),
            Membership::JoinResult::kWorkerFull);
  EXPECT_EQ(membership_.group_count(), 3u);
  EXPECT_EQ(membership_.Join(&a, "j", nullptr),
            Membership::JoinResult::kJoined);
  membership_.LeaveAll(&c);
  EXPECT_TRUE(membership_.Leave(&a, "j"));
  EXPECT_EQ(membership_.group_count(), 2u);
  EXPECT_TRUE(membership_.Leave(&a, "g"));
  EXPECT_FALSE(membership_.Leave(&a, "g"));
  EXPECT_EQ(stats_.broker_subscriptions, 2);  // b is still in g
  membership_.LeaveAll(&b);
  EXPECT_EQ(stats_.broker_subscriptions, 0);
  EXPECT_EQ(stats_.local_groups, 0);
  EXPECT_EQ(membership_.Find("group:g"), nullptr);
}

TEST_F(WorkerPartsTest, DispatcherAnswersWithStableCodes) {
  struct Case {
    const char* name;
    std::string payload;
    bool is_text;
    std::string reply_part;
  } cases[] = {
      {"binary", "x", false, "binary_not_supported"},
      {"bad_json", "{", true, "invalid_json"},
      {"unknown", R"({"cmd":"nope","id":1})", true, "unknown_cmd"},
      {"join_link_down", R"({"cmd":"add_group","group_id":"g","id":2})", true,
       "broker_unavailable"},
      {"send_link_down",
       R"({"cmd":"send_to_group","group_id":"g","message":"m","id":3})", true,
       "broker_unavailable"},
      {"leave", R"({"cmd":"leave_group","group_id":"g","id":4})", true,
       R"("ok":true)"},
      {"auth_without_tokens", R"({"cmd":"auth","token":"x","id":5})", true,
       "auth_disabled"},
  };
  ConnectionData con;
  con.id = 9;
  for (const Case& c : cases) {
    replies_.clear();
    EXPECT_EQ(dispatcher_.OnMessage(&con, c.payload, c.is_text, Clock::now()),
              CommandDispatcher::Verdict::kHandled)
        << c.name;
    ASSERT_EQ(replies_[9].size(), 1u) << c.name;
    EXPECT_NE(replies_[9][0].find(c.reply_part), std::string::npos)
        << c.name << ": " << replies_[9][0];
  }
}

TEST_F(WorkerPartsTest, RateLimitRefusesThenAsksToClose) {
  options_.rate_limit_per_sec = 1;
  ConnectionData con;
  con.id = 5;
  const auto now = Clock::now();
  con.bucket = TokenBucket(1, 1, now);
  const std::string leave = R"({"cmd":"leave_group","group_id":"g"})";
  EXPECT_EQ(dispatcher_.OnMessage(&con, leave, true, now),
            CommandDispatcher::Verdict::kHandled);  // the one token
  EXPECT_EQ(dispatcher_.OnMessage(&con, leave, true, now),
            CommandDispatcher::Verdict::kHandled);  // refused, 1 in a row
  EXPECT_EQ(dispatcher_.OnMessage(&con, leave, true, now),
            CommandDispatcher::Verdict::kHandled);  // 2 in a row
  EXPECT_EQ(dispatcher_.OnMessage(&con, leave, true, now),
            CommandDispatcher::Verdict::kCloseRateLimited);
  EXPECT_EQ(replies_[5].size(), 2u);
  EXPECT_NE(replies_[5][0].find("rate_limited"), std::string::npos);
}

}  // namespace
}  // namespace channel
