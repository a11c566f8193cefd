#ifndef CHANNEL_BROKER_CLUSTER_NATS_NATS_LINK_INTERNAL_H_
#define CHANNEL_BROKER_CLUSTER_NATS_NATS_LINK_INTERNAL_H_

// What nats_link.cc (the broker thread's side: receiving, subjects) and
// nats_link_connect.cc (connecting, subscribing, publishing) share:
// libnats' callbacks and the inbox they fill. Included by those two only.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "asio/post.hpp"
#include "broker/cluster/nats/nats_api.h"
#include "broker/cluster/nats/nats_link.h"
#include "common/logging/logging.h"

namespace channel {
namespace nats_link_internal {

constexpr absl::string_view kSubjectPrefix = "chan.";
// Probes (Probe): a broker holds kAlivePrefix.<hex id> while connected and
// gets NATS's answers to its own probes on kProbePrefix.<hex id>.<hex them>.
constexpr absl::string_view kAlivePrefix = "chansys.alive.";
constexpr absl::string_view kProbePrefix = "chansys.probe.";
// Queue events for a broker's members: kQueuePrefix.<hex id>.
constexpr absl::string_view kQueuePrefix = "chansys.queue.";

inline absl::Status FromNats(natsStatus s, absl::string_view what) {
  if (s == NATS_OK) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat(what, ": ", Nats().natsStatus_GetText(s)));
}

}  // namespace nats_link_internal

// What libnats' callbacks share with the broker thread. It outlives the
// NatsLink for posts still queued (they hold it); `link` is null once the
// NatsLink is gone.
struct NatsLink::Shared : std::enable_shared_from_this<NatsLink::Shared> {
  struct Incoming {
    Control control = Control::kNone;
    std::string subject;
    std::string data;
  };

  std::atomic<NatsLink*> link{nullptr};
  asio::io_context* io = nullptr;
  size_t max_inbox_bytes = 0;
  // Messages from NATS waiting for the broker thread. Filled on libnats'
  // delivery thread; one post drains all that arrived meanwhile, so a burst
  // wakes the broker thread once, not once per message. libnats' pending
  // limits do not bound it (libnats has handed these messages over), so it
  // is bounded here, in bytes (Options::max_inbox_bytes): past the bound a
  // message is dropped and its subject remembered, and the broker thread
  // treats it as NATS's own slow-consumer drop (its subscribers are told).
  std::mutex mu;
  std::vector<Incoming> inbox;
  size_t inbox_bytes = 0;
  absl::flat_hash_map<std::string, uint64_t> dropped;  // subject -> count
  uint64_t dropped_control = 0;
  bool drain_posted = false;

  void Enqueue(Incoming incoming) {
    {
      std::lock_guard<std::mutex> lock(mu);
      const size_t cost = incoming.subject.size() + incoming.data.size();
      if (inbox_bytes + cost > max_inbox_bytes) {
        // One entry per subscribed subject at most: bounded by them.
        if (incoming.control != Control::kNone) {
          ++dropped_control;
        } else {
          ++dropped[incoming.subject];
        }
      } else {
        inbox_bytes += cost;
        inbox.push_back(std::move(incoming));
      }
      if (drain_posted) return;
      drain_posted = true;
    }
    asio::post(*io, [self = shared_from_this()] { self->Drain(); });
  }

  void Drain() {
    std::vector<Incoming> batch;
    absl::flat_hash_map<std::string, uint64_t> lost;
    uint64_t lost_control = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      batch.swap(inbox);
      lost.swap(dropped);
      lost_control = dropped_control;
      dropped_control = 0;
      inbox_bytes = 0;
      drain_posted = false;
    }
    NatsLink* l = link.load();
    if (l == nullptr) return;
    for (Incoming& in : batch) l->Receive(in.control, in.subject, in.data);
    l->stats_.dropped_inbox_full += lost_control;
    for (const auto& [subject, count] : lost) l->Dropped(subject, count);
  }
};

// libnats calls these on its threads: copy, then hand to the broker thread.
struct NatsCallbacks {
  static NatsLink* Link(void* closure) {
    return static_cast<NatsLink::Shared*>(closure)->link.load();
  }
  static void OnMessage(natsConnection*, natsSubscription*, natsMsg* msg,
                        void* closure) {
    NatsLink::Shared::Incoming in;
    in.subject = Nats().natsMsg_GetSubject(msg);
    in.data.assign(Nats().natsMsg_GetData(msg),
                   static_cast<size_t>(Nats().natsMsg_GetDataLength(msg)));
    Nats().natsMsg_Destroy(msg);
    static_cast<NatsLink::Shared*>(closure)->Enqueue(std::move(in));
  }
  static void OnControl(natsMsg* msg, void* closure, NatsLink::Control kind) {
    NatsLink::Shared::Incoming in;
    in.control = kind;
    in.data.assign(Nats().natsMsg_GetData(msg),
                   static_cast<size_t>(Nats().natsMsg_GetDataLength(msg)));
    Nats().natsMsg_Destroy(msg);
    static_cast<NatsLink::Shared*>(closure)->Enqueue(std::move(in));
  }
  static void OnPresence(natsConnection*, natsSubscription*, natsMsg* msg,
                         void* closure) {
    OnControl(msg, closure, NatsLink::Control::kPresence);
  }
  static void OnInterest(natsConnection*, natsSubscription*, natsMsg* msg,
                         void* closure) {
    OnControl(msg, closure, NatsLink::Control::kInterest);
  }
  static void OnQueue(natsConnection*, natsSubscription*, natsMsg* msg,
                      void* closure) {
    OnControl(msg, closure, NatsLink::Control::kQueue);
  }
  // Another broker's probe of us: holding the subscription is the answer.
  static void OnAlive(natsConnection*, natsSubscription*, natsMsg* msg, void*) {
    Nats().natsMsg_Destroy(msg);
  }
  // NATS's answer to one of our probes: "no responders" means gone.
  static void OnProbe(natsConnection*, natsSubscription*, natsMsg* msg,
                      void* closure) {
    if (!Nats().natsMsg_IsNoResponders(msg)) {
      Nats().natsMsg_Destroy(msg);
      return;
    }
    NatsLink::Shared::Incoming in;
    in.control = NatsLink::Control::kGone;
    in.subject = Nats().natsMsg_GetSubject(msg);
    Nats().natsMsg_Destroy(msg);
    static_cast<NatsLink::Shared*>(closure)->Enqueue(std::move(in));
  }
  static void OnConnected(natsConnection*, void* closure) {
    if (NatsLink* link = Link(closure)) {
      link->Post([](NatsLink* l) {
        l->up_ = true;
        if (l->callbacks_.on_state) l->callbacks_.on_state(true, "");
      });
    }
  }
  static void OnReconnected(natsConnection*, void* closure) {
    if (NatsLink* link = Link(closure)) {
      link->Post([](NatsLink* l) {
        ++l->stats_.reconnects;
        l->up_ = true;
        if (l->callbacks_.on_state) l->callbacks_.on_state(true, "");
      });
    }
  }
  static void OnDisconnected(natsConnection*, void* closure) {
    if (NatsLink* link = Link(closure)) {
      link->Post([](NatsLink* l) {
        if (!l->up_) return;
        ++l->stats_.disconnects;
        l->up_ = false;
        if (l->callbacks_.on_state) {
          l->callbacks_.on_state(false, "the NATS connection was lost");
        }
      });
    }
  }
  static void OnError(natsConnection*, natsSubscription* sub, natsStatus err,
                      void* closure) {
    if (err != NATS_SLOW_CONSUMER || sub == nullptr) return;
    std::string subject = Nats().natsSubscription_GetSubject(sub);
    if (NatsLink* link = Link(closure)) {
      link->Post([subject = std::move(subject)](NatsLink* l) {
        ++l->stats_.dropped_slow_consumer;
        l->TellDropped(subject);
      });
    }
  }
};

}  // namespace channel

#endif  // CHANNEL_BROKER_CLUSTER_NATS_NATS_LINK_INTERNAL_H_
