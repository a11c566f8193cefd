#include "broker/cluster/jetstream_history.h"

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "asio/post.hpp"
#include "broker/cluster/nats_api.h"
#include "common/ops/log_limiter.h"
#include "common/ops/logging.h"

namespace channel {
namespace {

constexpr const char* kIdHeader = "Chn-P";     // a publish's id, for its ack
constexpr const char* kEpochTag = "; epoch ";  // in a stream's description

// A stable name for a rule: FNV-1a of its pattern (not a security
// boundary: every broker of a cluster must only compute the same one).
std::string PatternHash(absl::string_view pattern) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : pattern) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return absl::StrFormat("%016x", h);
}

int64_t WallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// One rule's stream as this broker follows it. Broker thread.
struct JetStreamHistory::Feed {
  std::string pattern, stream, filter, description;
  uint32_t size = 0;
  std::chrono::milliseconds ttl{0};
  std::string epoch;           // empty until the stream is set up
  uint64_t complete_from = 0;  // the stream's last sequence then
  bool loaded = false;         // its kept past is applied
  bool setting_up = false;     // a SetUp job is queued or running
  bool probing = false;        // a Probe job is queued or running
  // The applied offset when a probe last found the stream ahead of it
  // (~0: it was not ahead).
  uint64_t behind_at = ~uint64_t{0};
  uint64_t generation = 0;  // of the current subscription
  natsSubscription* sub = nullptr;
};

// What libnats' threads and the worker share with the broker thread. Held
// by the JetStreamHistory, by posts in flight, and (keep_alive) by the
// NatsLink until libnats is closed; `owner` is null once the
// JetStreamHistory is gone.
struct JetStreamHistory::Shared : std::enable_shared_from_this<Shared> {
  struct Incoming {
    size_t rule;
    uint64_t generation;
    uint64_t seq;
    uint64_t pending;  // events of the stream after this one, then
    int64_t time_ns;
    std::string data;
  };
  // The closure of one subscription.
  struct Tag {
    Shared* shared;
    size_t rule;
    uint64_t generation;
  };

  std::atomic<JetStreamHistory*> owner{nullptr};
  asio::io_context* io = nullptr;
  size_t max_inbox_bytes = 0;
  jsCtx* js = nullptr;  // set once, on the broker thread, before any job

  std::mutex mu;
  std::vector<Incoming> inbox;
  size_t inbox_bytes = 0;
  bool drain_posted = false;
  std::vector<uint64_t> generation;  // the current one, per rule
  std::vector<bool> overflowed;      // per rule: dropped, not yet followed
  uint64_t dropped = 0;
  std::vector<std::unique_ptr<Tag>> tags;  // freed with Shared

  // The worker thread and its jobs.
  std::mutex work_mu;
  std::condition_variable work_cv;
  std::deque<std::function<void()>> jobs;
  bool stopping = false;
  std::thread worker;

  ~Shared() {
    if (js != nullptr) Nats().jsCtx_Destroy(js);
  }

  void Post(std::function<void(JetStreamHistory*)> fn) {
    asio::post(*io, [self = shared_from_this(), fn = std::move(fn)] {
      if (JetStreamHistory* h = self->owner.load()) fn(h);
    });
  }

  void Enqueue(Incoming in) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (in.generation != generation[in.rule] || overflowed[in.rule]) {
        return;  // an old subscription's straggler, or an overflowed feed
      }
      const size_t cost = in.data.size() + 64;
      if (inbox_bytes + cost > max_inbox_bytes) {
        // Stop taking this feed: it is followed again from the first
        // event not applied (Drain sees the flag).
        overflowed[in.rule] = true;
        ++dropped;
      } else {
        inbox_bytes += cost;
        inbox.push_back(std::move(in));
      }
      if (drain_posted) return;
      drain_posted = true;
    }
    asio::post(*io, [self = shared_from_this()] { self->Drain(); });
  }

  void Drain() {
    std::vector<Incoming> batch;
    std::vector<size_t> to_follow;
    uint64_t lost = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      batch.swap(inbox);
      inbox_bytes = 0;
      drain_posted = false;
      lost = dropped;
      dropped = 0;
      for (size_t r = 0; r < overflowed.size(); ++r) {
        if (overflowed[r]) to_follow.push_back(r);
      }
    }
    JetStreamHistory* h = owner.load();
    if (h == nullptr) return;
    for (const Incoming& in : batch) {
      h->Apply(in.rule, in.generation, in.seq, in.pending, in.time_ns, in.data);
      if (in.pending == 0 && in.generation == h->feeds_[in.rule]->generation) {
        h->feeds_[in.rule]->loaded = true;
      }
    }
    h->stats_.dropped_inbox_full += lost;
    for (size_t r : to_follow) h->Resubscribe(r);
  }

  void Submit(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(work_mu);
      jobs.push_back(std::move(job));
    }
    work_cv.notify_one();
  }

  void Work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(work_mu);
        work_cv.wait(lock, [this] { return stopping || !jobs.empty(); });
        if (stopping) return;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      job();
    }
  }
};

// libnats' callbacks: copy, then hand to the broker thread.
struct JetStreamCallbacks {
  static void OnFeedMessage(natsConnection*, natsSubscription*, natsMsg* msg,
                            void* closure) {
    auto* tag = static_cast<JetStreamHistory::Shared::Tag*>(closure);
    jsMsgMetaData* meta = nullptr;
    if (Nats().natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
      Nats().natsMsg_Destroy(msg);  // not a stream message (cannot happen)
      return;
    }
    JetStreamHistory::Shared::Incoming in;
    in.rule = tag->rule;
    in.generation = tag->generation;
    in.seq = meta->Sequence.Stream;
    in.pending = meta->NumPending;
    in.time_ns = meta->Timestamp;
    Nats().jsMsgMetaData_Destroy(meta);
    in.data.assign(Nats().natsMsg_GetData(msg),
                   static_cast<size_t>(Nats().natsMsg_GetDataLength(msg)));
    Nats().natsMsg_Destroy(msg);
    tag->shared->Enqueue(std::move(in));
  }

  static void OnPublishAck(jsCtx*, natsMsg* msg, jsPubAck*, jsPubAckErr* pae,
                           void* closure) {
    auto* shared = static_cast<JetStreamHistory::Shared*>(closure);
    const char* value = nullptr;
    uint64_t id = 0;
    if (Nats().natsMsgHeader_Get(msg, kIdHeader, &value) != NATS_OK ||
        !absl::SimpleAtoi(value, &id)) {
      return;
    }
    // Plain strings across threads: the Status is made on the broker
    // thread (Debian's Abseil is not TSan-instrumented, so a Status shared
    // between threads reads as a race).
    std::string error;
    if (pae != nullptr) {
      error = pae->ErrText != nullptr ? pae->ErrText
                                      : Nats().natsStatus_GetText(pae->Err);
    }
    const bool failed = pae != nullptr;
    shared->Post([id, failed, error = std::move(error)](JetStreamHistory* h) {
      h->Acked(id, failed ? absl::UnavailableError(absl::StrCat(
                                "JetStream did not store it: ", error))
                          : absl::OkStatus());
    });
  }
};

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

void JetStreamHistory::SetUp(size_t rule, uint64_t start) {
  // Worker thread: only what was copied, and posts.
  const Feed& f = *feeds_[rule];  // its names never change
  Shared* shared = shared_.get();
  const char* subjects[] = {f.filter.c_str()};
  jsStreamConfig cfg;
  Nats().jsStreamConfig_Init(&cfg);
  cfg.Name = f.stream.c_str();
  cfg.Description = f.description.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  // More than the rule's size (Keep): a lagging feed still sees every
  // event; the mirror keeps the size.
  cfg.MaxMsgsPerSubject = Keep(f.size);
  cfg.MaxAge = static_cast<int64_t>(f.ttl.count()) * 1000000;  // ns
  cfg.Replicas = options_.replicas == 0 ? 3 : options_.replicas;
  // The epoch lives in the stream's description, written by the broker
  // that makes the stream: every broker reads the same one, whichever
  // replica answers (a replica's own creation time may differ).
  std::random_device random;
  const std::string made_epoch =
      absl::StrFormat("%08x%08x", static_cast<uint32_t>(random()),
                      static_cast<uint32_t>(random()));
  std::string description = absl::StrCat(f.description, kEpochTag, made_epoch);
  cfg.Description = description.c_str();
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s =
      Nats().js_GetStreamInfo(&si, shared->js, cfg.Name, nullptr, &jerr);
  if (s == NATS_OK) {
    // It exists: keep its epoch; set our limits if another broker (or an
    // earlier run) gave other ones (every broker of a cluster must be
    // given the same --history).
    const jsStreamConfig* have = si->Config;
    if (have != nullptr && have->Description != nullptr) {
      description = have->Description;
      cfg.Description = description.c_str();
    }
    if (have != nullptr && options_.replicas == 0)
      cfg.Replicas = have->Replicas;
    if (have != nullptr &&
        (have->MaxMsgsPerSubject != cfg.MaxMsgsPerSubject ||
         have->MaxAge != cfg.MaxAge || have->Replicas != cfg.Replicas)) {
      Nats().jsStreamInfo_Destroy(si);
      si = nullptr;
      jerr = static_cast<jsErrCode>(0);
      s = Nats().js_UpdateStream(&si, shared->js, &cfg, nullptr, &jerr);
    }
  } else if (jerr == JSStreamNotFoundErr) {
    jerr = static_cast<jsErrCode>(0);
    s = Nats().js_AddStream(&si, shared->js, &cfg, nullptr, &jerr);
    if (s != NATS_OK && options_.replicas == 0 &&
        (jerr == JSInsufficientResourcesErr ||
         jerr == JSStreamReplicasNotSupportedErr ||
         jerr == JSClusterNoPeersErr)) {
      spdlog::warn(
          "JetStream cannot place 3 replicas of {} (a NATS of fewer than 3 "
          "JetStream servers): using 1; a NATS server's loss loses history "
          "kept there (--history_replicas)",
          f.stream);
      cfg.Replicas = 1;
      jerr = static_cast<jsErrCode>(0);
      s = Nats().js_AddStream(&si, shared->js, &cfg, nullptr, &jerr);
    }
    if (s != NATS_OK && jerr == JSStreamNameExistErr) {
      // Another broker made it meanwhile: its epoch.
      jerr = static_cast<jsErrCode>(0);
      s = Nats().js_GetStreamInfo(&si, shared->js, cfg.Name, nullptr, &jerr);
    }
  }
  if (s != NATS_OK) {
    if (si != nullptr) Nats().jsStreamInfo_Destroy(si);
    std::string why =
        absl::StrCat(Nats().natsStatus_GetText(s), " (JetStream error ",
                     static_cast<int>(jerr), ")");
    if (jerr == JSNotEnabledErr || s == NATS_NO_RESPONDERS) {
      why += ": is JetStream enabled on NATS (nats-server -js -sd DIR)?";
    }
    shared->Post([rule, why](JetStreamHistory* h) {
      h->feeds_[rule]->setting_up = false;
      CHANNEL_LOG_LIMITED(spdlog::level::err,
                          "history stream {} not set up: {}; retrying",
                          h->feeds_[rule]->stream, why);
    });
    return;
  }
  std::string epoch;
  if (si->Config != nullptr && si->Config->Description != nullptr) {
    const absl::string_view d = si->Config->Description;
    const size_t at = d.rfind(kEpochTag);
    if (at != absl::string_view::npos) {
      epoch = std::string(d.substr(at + strlen(kEpochTag)));
    }
  }
  // A stream made without one (by hand): its creation time.
  if (epoch.empty()) epoch = absl::StrFormat("%x", si->Created);
  const uint64_t last = si->State.LastSeq;
  Nats().jsStreamInfo_Destroy(si);
  // Before the subscription exists: the mirror must know the epoch before
  // the first event arrives (both go through the broker thread's queue).
  uint64_t generation = 0;
  Shared::Tag* tag = nullptr;
  {
    std::lock_guard<std::mutex> lock(shared->mu);
    generation = ++shared->generation[rule];
    shared->overflowed[rule] = false;
    shared->tags.push_back(
        std::make_unique<Shared::Tag>(Shared::Tag{shared, rule, generation}));
    tag = shared->tags.back().get();
  }
  shared->Post([rule, epoch, last, generation](JetStreamHistory* h) {
    Feed& feed = *h->feeds_[rule];
    if (feed.epoch != epoch) {
      if (!feed.epoch.empty()) {
        spdlog::warn("history stream {} was replaced (epoch {} -> {})",
                     feed.stream, feed.epoch, epoch);
      }
      const bool first = feed.epoch.empty();
      feed.epoch = epoch;
      feed.complete_from = last;
      feed.loaded = last == 0;
      h->store_->BeginMirror(rule, epoch, last);
      // Subscribers that joined before this broker followed the stream
      // (it starts, or its feed came up late) may have missed what was
      // stored meanwhile, up to `last`: they are closed and come back
      // told (a gap, or recovered from their offsets). Never silence.
      if (first && last > 0 && h->overrun_) h->overrun_(rule);
    }
    feed.generation = generation;
  });
  jsSubOptions so;
  Nats().jsSubOptions_Init(&so);
  so.Stream = f.stream.c_str();
  so.Ordered = true;
  if (start > 0) {
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = start;
  }
  natsSubscription* sub = nullptr;
  jerr = static_cast<jsErrCode>(0);
  s = Nats().js_Subscribe(&sub, shared->js, f.filter.c_str(),
                          &JetStreamCallbacks::OnFeedMessage, tag, nullptr, &so,
                          &jerr);
  if (s != NATS_OK) {
    std::string why =
        absl::StrCat(Nats().natsStatus_GetText(s), " (JetStream error ",
                     static_cast<int>(jerr), ")");
    shared->Post([rule, why](JetStreamHistory* h) {
      h->feeds_[rule]->setting_up = false;
      CHANNEL_LOG_LIMITED(spdlog::level::err,
                          "history stream {}: following it failed: {}; "
                          "retrying",
                          h->feeds_[rule]->stream, why);
    });
    return;
  }
  Nats().natsSubscription_SetPendingLimits(sub, -1, 256 << 20);
  // Nothing left to load when the consumer has nothing pending now: what
  // it pushed before this is queued ahead of this post.
  bool caught_up = false;
  jsConsumerInfo* ci = nullptr;
  if (Nats().natsSubscription_GetConsumerInfo(&ci, sub, nullptr, nullptr) ==
      NATS_OK) {
    caught_up = ci->NumPending == 0;
    Nats().jsConsumerInfo_Destroy(ci);
  }
  shared->Post([rule, sub, caught_up, generation](JetStreamHistory* h) {
    Feed& feed = *h->feeds_[rule];
    feed.setting_up = false;
    if (feed.sub != nullptr) Nats().natsSubscription_Destroy(feed.sub);
    feed.sub = sub;
    if (caught_up && generation == feed.generation) feed.loaded = true;
    // The new feed may have overflowed already (while this was on its
    // way, Resubscribe found a setup running and left it).
    if (h->Overflowed(rule)) h->Resubscribe(rule);
    spdlog::info("history stream {} ('{}'): following from {} (epoch {})",
                 feed.stream, feed.pattern,
                 h->store_->applied(rule) == 0
                     ? std::string("its start")
                     : absl::StrCat("offset ", h->store_->applied(rule) + 1),
                 feed.epoch);
  });
}

void JetStreamHistory::Probe(size_t rule) {
  // Worker thread. The stream's last sequence, to tell a feed that stopped
  // (a push consumer's flow control can stall under a burst: seen with
  // nats-server 2.9) from one that has nothing to deliver.
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const natsStatus s = Nats().js_GetStreamInfo(
      &si, shared_->js, feeds_[rule]->stream.c_str(), nullptr, &jerr);
  uint64_t last = 0;
  if (s == NATS_OK) {
    last = si->State.LastSeq;
    Nats().jsStreamInfo_Destroy(si);
  }
  shared_->Post([rule, ok = s == NATS_OK, last](JetStreamHistory* h) {
    Feed& feed = *h->feeds_[rule];
    feed.probing = false;
    if (!ok || feed.setting_up) return;
    const uint64_t applied = h->store_->applied(rule);
    if (last <= applied) {
      feed.behind_at = ~uint64_t{0};
      return;
    }
    if (feed.behind_at != applied) {
      feed.behind_at = applied;  // behind: moving on, or stopped? next time
      return;
    }
    // Behind for two probes without applying anything: follow it again.
    feed.behind_at = ~uint64_t{0};
    ++h->stats_.stalls;
    CHANNEL_LOG_LIMITED(spdlog::level::warn,
                        "history stream {}: its feed stopped at offset {} "
                        "while the stream is at {}: following it again",
                        feed.stream, applied, last);
    h->Refollow(rule);
  });
}

bool JetStreamHistory::Overflowed(size_t rule) const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->overflowed[rule];
}

void JetStreamHistory::Resubscribe(size_t rule) {
  if (feeds_[rule]->setting_up) return;
  ++stats_.resubscribes;
  CHANNEL_LOG_LIMITED(spdlog::level::warn,
                      "history stream {}: events came faster than this "
                      "broker applied them (--nats_max_inbox_bytes); "
                      "following it again from offset {}",
                      feeds_[rule]->stream, store_->applied(rule) + 1);
  Refollow(rule);
}

void JetStreamHistory::Refollow(size_t rule) {
  Feed& feed = *feeds_[rule];
  if (feed.setting_up) return;
  natsSubscription* old = feed.sub;
  feed.sub = nullptr;
  feed.setting_up = true;
  shared_->Submit([this, rule, old, start = store_->applied(rule) + 1] {
    if (old != nullptr) {
      // Deletes its consumer on the server too (a request: worker thread).
      Nats().natsSubscription_Unsubscribe(old);
      Nats().natsSubscription_Destroy(old);
    }
    SetUp(rule, start);
  });
}

void JetStreamHistory::Apply(size_t rule, uint64_t generation, uint64_t seq,
                             uint64_t pending, int64_t time_ns,
                             const std::string& data) {
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
