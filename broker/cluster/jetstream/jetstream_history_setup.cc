// JetStreamHistory's worker side: setting up each rule's stream and its
// consumer, probing a stream that may be ahead, following it again.
#include "broker/cluster/jetstream/jetstream_history.h"
#include "broker/cluster/jetstream/jetstream_history_internal.h"

namespace channel {

using jetstream_internal::kEpochTag;

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

}  // namespace channel
