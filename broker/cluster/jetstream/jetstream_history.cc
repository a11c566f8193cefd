#include "broker/cluster/jetstream/jetstream_history.h"

#include "broker/cluster/jetstream/jetstream_history_internal.h"

namespace channel {

using jetstream_internal::kIdHeader;
using jetstream_internal::PatternHash;
using jetstream_internal::WallNs;

JetStreamHistory::JetStreamHistory(asio::io_context& io, HistoryStore* store,
                                   Options options, Deliver deliver,
                                   Overrun overrun)
    : io_(io),
      store_(store),
      options_(options),
      deliver_(std::move(deliver)),
      overrun_(std::move(overrun)),
      shared_(std::make_shared<Shared>()),
      tick_(io) {
  shared_->owner = this;
  shared_->io = &io_;
  shared_->max_inbox_bytes = options_.max_inbox_bytes;
  const auto& rules = store_->options().rules.rules();
  shared_->generation.assign(rules.size(), 0);
  shared_->overflowed.assign(rules.size(), false);
  for (const HistoryRule& rule : rules) {
    auto feed = std::make_unique<Feed>();
    feed->pattern = rule.pattern;
    feed->stream = StreamName(rule.pattern);
    feed->filter = absl::StrCat("chanh.", PatternHash(rule.pattern), ".>");
    feed->description = absl::StrCat("channel history of groups '",
                                     rule.pattern, "' (channel-broker)");
    feed->size = rule.size;
    feed->ttl = rule.ttl;
    feeds_.push_back(std::move(feed));
  }
  waiters_.resize(feeds_.size());
  shared_->worker = std::thread([s = shared_.get()] { s->Work(); });
  ArmTick();
}

JetStreamHistory::~JetStreamHistory() {
  shared_->owner = nullptr;
  {
    std::lock_guard<std::mutex> lock(shared_->work_mu);
    shared_->stopping = true;
  }
  shared_->work_cv.notify_one();
  shared_->worker.join();
  for (auto& feed : feeds_) {
    if (feed->sub != nullptr) Nats().natsSubscription_Destroy(feed->sub);
  }
}

std::shared_ptr<void> JetStreamHistory::keep_alive() const { return shared_; }

std::string JetStreamHistory::StreamName(absl::string_view pattern) {
  return absl::StrCat("CHANNEL_H_", PatternHash(pattern));
}

std::string JetStreamHistory::Subject(absl::string_view pattern,
                                      absl::string_view channel) {
  return absl::StrCat("chanh.", PatternHash(pattern), ".",
                      absl::BytesToHexString(channel));
}

bool JetStreamHistory::Handles(absl::string_view channel) const {
  return store_->RuleFor(channel) != nullptr;
}

bool JetStreamHistory::ready() const { return NotReadyReason().empty(); }

std::string JetStreamHistory::NotReadyReason() const {
  for (const auto& feed : feeds_) {
    if (feed->epoch.empty()) {
      return absl::StrCat("JetStream stream ", feed->stream, " (history '",
                          feed->pattern, "') is not set up yet");
    }
    if (!feed->loaded) {
      return absl::StrCat("JetStream stream ", feed->stream, " (history '",
                          feed->pattern, "') is still loading");
    }
  }
  return std::string();
}

void JetStreamHistory::OnDisconnected() { up_ = false; }

void JetStreamHistory::SetUpMissing() {
  for (size_t r = 0; r < feeds_.size(); ++r) {
    Feed& feed = *feeds_[r];
    if (feed.sub != nullptr || feed.setting_up) continue;
    feed.setting_up = true;
    shared_->Submit([this, r, start = store_->applied(r)] {
      SetUp(r, start == 0 ? 0 : start + 1);
    });
  }
}

void JetStreamHistory::OnConnected(natsConnection* connection) {
  up_ = true;
  if (shared_->js == nullptr) {
    jsOptions o;
    Nats().jsOptions_Init(&o);
    o.Wait = options_.api_timeout.count();
    o.PublishAsync.MaxPending = options_.max_pending;
    o.PublishAsync.AckHandler = &JetStreamCallbacks::OnPublishAck;
    o.PublishAsync.AckHandlerClosure = shared_.get();
    // Over max_pending, Store answers BACKPRESSURE at once: the broker
    // thread never waits for JetStream.
    o.PublishAsync.StallWait = 1;
    if (Nats().natsConnection_JetStream(&shared_->js, connection, &o) !=
        NATS_OK) {
      spdlog::error("JetStream context: {}", Nats().nats_GetLastError(nullptr));
      shared_->js = nullptr;
      return;
    }
  }
  SetUpMissing();
}

void JetStreamHistory::Apply(size_t rule, uint64_t generation, uint64_t seq,
                             int64_t time_ns, const std::string& data) {
  Feed& feed = *feeds_[rule];
  if (generation != feed.generation || seq <= store_->applied(rule)) return;
  // Live, the stream's sequence is contiguous: every offset is an event
  // stored for this rule. A jump means JetStream dropped events (a
  // group's limit, or their age) before this broker saw them, so some of
  // the rule's subscribers may miss them: before this event is delivered,
  // recoveries from before it are refused and the rule's local
  // subscribers are closed; they come back from where they were and are
  // told (recovered:false, a gap naming the group). Never silence.
  const uint64_t known = std::max(store_->applied(rule), feed.complete_from);
  if (seq > known + 1 && known >= feed.complete_from &&
      seq > feed.complete_from) {
    ++stats_.overruns;
    CHANNEL_LOG_LIMITED(spdlog::level::warn,
                        "history stream {}: events {} to {} were dropped by "
                        "JetStream before this broker saw them (its feed "
                        "lagged behind a group's limit or age): their "
                        "subscribers are told",
                        feed.stream, known + 1, seq - 1);
    store_->Overrun(rule, seq - 1);
    if (overrun_) overrun_(rule);
  }
  v1::Event* event = incoming_.mutable_event();
  const HistoryRule* r = nullptr;
  if (!event->ParseFromString(data) ||
      (r = store_->RuleFor(event->channel())) == nullptr ||
      store_->RuleIndex(r) != rule) {
    ++stats_.undecodable;
    return;
  }
  ++stats_.received;
  event->set_offset(seq);
  event->set_epoch(feed.epoch);
  // Its age by the wall clocks (NATS's and ours), as a time on the
  // store's clock.
  const int64_t age_ms = std::max<int64_t>(0, (WallNs() - time_ns) / 1000000);
  const bool kept = store_->AppendAt(*event, store_->NowMs() - age_ms);
  if (seq >= feed.complete_from) feed.loaded = true;
  if (kept && seq > feed.complete_from && deliver_) deliver_(incoming_);
  // After the delivery: a reader answered now sees this event as history
  // or already had it, never as a later live one.
  if (!waiters_[rule].empty()) {
    ReleaseWaiters(rule, std::chrono::steady_clock::time_point::min());
  }
}

bool JetStreamHistory::WaitApplied(absl::string_view channel,
                                   const v1::StreamPosition& position,
                                   std::function<void()> fn) {
  const HistoryRule* r = store_->RuleFor(channel);
  if (r == nullptr || waiting_ >= kMaxWaiters) return false;
  const size_t rule = store_->RuleIndex(r);
  if (rule >= feeds_.size()) return false;
  const Feed& feed = *feeds_[rule];
  if (feed.epoch.empty() || position.epoch() != feed.epoch ||
      position.offset() <= store_->applied(rule)) {
    return false;
  }
  waiters_[rule].emplace(
      position.offset(),
      Waiter{std::move(fn), std::chrono::steady_clock::now() + kMaxWait});
  ++waiting_;
  return true;
}

void JetStreamHistory::ReleaseWaiters(
    size_t rule, std::chrono::steady_clock::time_point now) {
  auto& waiters = waiters_[rule];
  const uint64_t applied = store_->applied(rule);
  std::vector<std::function<void()>> ready;
  for (auto it = waiters.begin(); it != waiters.end();) {
    if (it->first <= applied || it->second.deadline <= now) {
      ready.push_back(std::move(it->second.fn));
      it = waiters.erase(it);
      --waiting_;
    } else if (now == std::chrono::steady_clock::time_point::min()) {
      break;  // by offset: the rest are further ahead
    } else {
      ++it;
    }
  }
  for (auto& fn : ready) fn();
}

absl::Status JetStreamHistory::Store(const v1::Event& event, Done done) {
  const HistoryRule* rule = store_->RuleFor(event.channel());
  if (rule == nullptr) {
    return absl::FailedPreconditionError("not a history channel");
  }
  const Feed& feed = *feeds_[store_->RuleIndex(rule)];
  if (shared_->js == nullptr || feed.epoch.empty()) {
    ++stats_.store_failures;
    return absl::UnavailableError(absl::StrCat(
        "history of '", feed.pattern,
        "' is not available yet (its JetStream stream is not set up): "
        "nothing was published"));
  }
  if (static_cast<int64_t>(pending_.size()) >= options_.max_pending) {
    ++stats_.store_failures;
    return absl::AbortedError(
        "too many publishes await JetStream's confirmation: nothing was "
        "published, retry shortly");
  }
  event.SerializeToString(&scratch_);
  const std::string subject = Subject(feed.pattern, event.channel());
  const uint64_t id = next_id_++;
  natsMsg* msg = nullptr;
  natsStatus s =
      Nats().natsMsg_Create(&msg, subject.c_str(), nullptr, scratch_.data(),
                            static_cast<int>(scratch_.size()));
  if (s == NATS_OK) {
    s = Nats().natsMsgHeader_Set(msg, kIdHeader, std::to_string(id).c_str());
  }
  if (s == NATS_OK) {
    jsPubOptions po;
    Nats().jsPubOptions_Init(&po);
    po.ExpectStream = feed.stream.c_str();
    po.MaxWait = options_.publish_timeout.count();
    s = Nats().js_PublishMsgAsync(shared_->js, &msg, &po);
  }
  if (s != NATS_OK) {
    if (msg != nullptr) Nats().natsMsg_Destroy(msg);
    ++stats_.store_failures;
    if (s == NATS_TIMEOUT) {
      return absl::AbortedError(
          "too many publishes await JetStream's confirmation: nothing was "
          "published, retry shortly");
    }
    return absl::UnavailableError(absl::StrCat("JetStream publish failed (",
                                               Nats().natsStatus_GetText(s),
                                               "): nothing was published"));
  }
  pending_.emplace(id,
                   Pending{std::move(done), std::chrono::steady_clock::now() +
                                                options_.publish_timeout +
                                                std::chrono::seconds(1)});
  return absl::OkStatus();
}

void JetStreamHistory::Acked(uint64_t id, absl::Status status) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;  // timed out already
  Done done = std::move(it->second.done);
  pending_.erase(it);
  ++(status.ok() ? stats_.stored : stats_.store_failures);
  if (done) done(std::move(status));
}

void JetStreamHistory::ArmTick() {
  tick_.expires_after(std::chrono::seconds(1));
  tick_.async_wait([this](const std::error_code& ec) {
    if (ec) return;
    // Publishes JetStream never answered (a lost connection): told, not
    // left waiting. Whether it was stored is unknown.
    const auto now = std::chrono::steady_clock::now();
    while (!pending_.empty() && pending_.begin()->second.deadline <= now) {
      Done done = std::move(pending_.begin()->second.done);
      pending_.erase(pending_.begin());
      ++stats_.store_failures;
      if (done) {
        done(absl::DeadlineExceededError(
            "JetStream did not confirm the publish in time: it may or may "
            "not have been stored"));
      }
    }
    if (up_ && shared_->js != nullptr) SetUpMissing();  // after a failure
    for (size_t r = 0; r < feeds_.size(); ++r) {
      if (Overflowed(r)) Resubscribe(r);
      Feed& feed = *feeds_[r];
      if (up_ && feed.sub != nullptr && !feed.setting_up && !feed.probing) {
        feed.probing = true;
        shared_->Submit([this, r] { Probe(r); });
      }
    }
    for (size_t r = 0; r < waiters_.size(); ++r) {
      if (!waiters_[r].empty()) ReleaseWaiters(r, now);
    }
    ArmTick();
  });
}

}  // namespace channel
