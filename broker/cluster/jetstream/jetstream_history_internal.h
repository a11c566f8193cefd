#ifndef CHANNEL_BROKER_CLUSTER_JETSTREAM_JETSTREAM_HISTORY_INTERNAL_H_
#define CHANNEL_BROKER_CLUSTER_JETSTREAM_JETSTREAM_HISTORY_INTERNAL_H_

// What jetstream_history.cc (the broker side: status, applying, storing)
// and jetstream_history_setup.cc (the worker side: streams, consumers,
// probes) share: the Feed and Shared state and libnats' callbacks.
// Included by those two files only.
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
#include "broker/cluster/jetstream/jetstream_history.h"
#include "broker/cluster/nats/nats_api.h"
#include "common/logging/log_limiter.h"
#include "common/logging/logging.h"

namespace channel {
namespace jetstream_internal {

// A publish's id, for its ack; the tag of a stream's epoch in its
// description.
inline constexpr const char* kIdHeader = "Chn-P";
inline constexpr const char* kEpochTag = "; epoch ";

// A stable name for a rule: FNV-1a of its pattern (not a security
// boundary: every broker of a cluster must only compute the same one).
inline std::string PatternHash(absl::string_view pattern) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : pattern) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return absl::StrFormat("%016x", h);
}

inline int64_t WallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace jetstream_internal

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
      h->Apply(in.rule, in.generation, in.seq, in.time_ns, in.data);
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
    if (Nats().natsMsgHeader_Get(msg, jetstream_internal::kIdHeader, &value) !=
            NATS_OK ||
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

}  // namespace channel

#endif  // CHANNEL_BROKER_CLUSTER_JETSTREAM_JETSTREAM_HISTORY_INTERNAL_H_
