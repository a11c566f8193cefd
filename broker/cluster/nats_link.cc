#include "broker/cluster/nats_link.h"

#include <mutex>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "asio/post.hpp"
#include "broker/cluster/nats_api.h"
#include "common/logging/log_limiter.h"
#include "common/logging/logging.h"

namespace channel {
namespace {

constexpr absl::string_view kSubjectPrefix = "chan.";
// Probes (Probe): a broker holds kAlivePrefix.<hex id> while connected and
// gets NATS's answers to its own probes on kProbePrefix.<hex id>.<hex them>.
constexpr absl::string_view kAlivePrefix = "chansys.alive.";
constexpr absl::string_view kProbePrefix = "chansys.probe.";

absl::Status FromNats(natsStatus s, absl::string_view what) {
  if (s == NATS_OK) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat(what, ": ", Nats().natsStatus_GetText(s)));
}

}  // namespace

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

NatsLink::NatsLink(asio::io_context& io, Options options, Callbacks callbacks)
    : io_(io),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      self_(std::make_shared<Shared>()) {
  self_->link = this;
  self_->io = &io_;
  self_->max_inbox_bytes = options_.max_inbox_bytes;
}

NatsLink::~NatsLink() {
  self_->link = nullptr;
  if (presence_sub_ != nullptr) Nats().natsSubscription_Destroy(presence_sub_);
  if (interest_sub_ != nullptr) Nats().natsSubscription_Destroy(interest_sub_);
  if (alive_sub_ != nullptr) Nats().natsSubscription_Destroy(alive_sub_);
  if (probe_sub_ != nullptr) Nats().natsSubscription_Destroy(probe_sub_);
  for (auto& [channel, sub] : subscriptions_)
    Nats().natsSubscription_Destroy(sub);
  subscriptions_.clear();
  if (connection_ != nullptr) {
    Nats().natsConnection_Close(connection_);
    Nats().natsConnection_Destroy(connection_);
    // Waits (bounded) for libnats' threads to end and its memory to be
    // released, so that no callback can still be running with self_ (which
    // dies with this link) as closure. One NatsLink per process: tearing
    // the library down is ours to do. 2 s was sometimes too short for a
    // loaded machine under ASan (libnats still freeing its queued messages
    // at exit); a timeout is said, never silent.
    if (Nats().nats_CloseAndWait(10000) != NATS_OK) {
      spdlog::warn("NATS library still closing after 10 s; exiting anyway");
    }
  }
}

void NatsLink::Dropped(const std::string& subject, uint64_t count) {
  stats_.dropped_inbox_full += count;
  TellDropped(subject);
}

void NatsLink::TellDropped(const std::string& subject) {
  std::string channel;
  if (ChannelOf(subject, &channel) && callbacks_.on_dropped) {
    callbacks_.on_dropped(channel);
  }
}

void NatsLink::Post(std::function<void(NatsLink*)> fn) {
  asio::post(io_, [self = self_, fn = std::move(fn)] {
    if (NatsLink* link = self->link.load()) fn(link);
  });
}

void NatsLink::Receive(Control control, const std::string& subject,
                       const std::string& data) {
  stats_.bytes_in += data.size();
  if (control == Control::kPresence) {  // not an event: bytes only
    if (callbacks_.on_presence) callbacks_.on_presence(data);
    return;
  }
  if (control == Control::kInterest) {
    if (callbacks_.on_interest) callbacks_.on_interest(data);
    return;
  }
  if (control == Control::kGone) {
    // The reply subject we gave: kProbePrefix.<hex us>.<hex them>.
    const size_t dot = subject.rfind('.');
    const std::string them =
        dot == std::string::npos
            ? ""
            : absl::HexStringToBytes(subject.substr(dot + 1));
    if (!them.empty() && callbacks_.on_gone) callbacks_.on_gone(them);
    return;
  }
  ++stats_.messages_in;
  std::string channel;
  if (!ChannelOf(subject, &channel) ||
      !incoming_.mutable_event()->ParseFromString(data) ||
      incoming_.event().channel() != channel) {
    ++stats_.dropped_undecodable;
    return;
  }
  if (callbacks_.on_event) callbacks_.on_event(incoming_);
}

std::string NatsLink::Subject(absl::string_view channel) {
  return absl::StrCat(kSubjectPrefix, absl::BytesToHexString(channel));
}

bool NatsLink::ChannelOf(absl::string_view subject, std::string* channel) {
  if (!absl::ConsumePrefix(&subject, kSubjectPrefix) || subject.size() % 2) {
    return false;
  }
  for (char c : subject) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  *channel = absl::HexStringToBytes(subject);
  return true;
}

absl::Status NatsLink::Start() {
  if (absl::Status loaded = LoadNats(); !loaded.ok()) return loaded;
  natsOptions* opts = nullptr;
  if (Nats().natsOptions_Create(&opts) != NATS_OK) {
    return absl::InternalError("natsOptions_Create failed");
  }
  std::vector<const char*> servers;
  for (const auto& s : options_.servers) servers.push_back(s.c_str());
  natsStatus s = Nats().natsOptions_SetServers(
      opts, servers.data(), static_cast<int>(servers.size()));
  void* closure = self_.get();
  if (s == NATS_OK) s = Nats().natsOptions_SetName(opts, options_.name.c_str());
  if (s == NATS_OK) s = Nats().natsOptions_SetNoEcho(opts, true);
  if (s == NATS_OK) s = Nats().natsOptions_SetMaxReconnect(opts, -1);
  if (s == NATS_OK) s = Nats().natsOptions_SetReconnectWait(opts, 200);
  if (s == NATS_OK) s = Nats().natsOptions_SetReconnectJitter(opts, 100, 100);
  // One shared delivery thread instead of libnats' default of one thread
  // per subscription: a broker subscribes to a subject per channel with
  // local subscribers (thousands of threads, ~40 KiB of stack each, and a
  // context switch to a different thread per message otherwise).
  if (s == NATS_OK) s = Nats().natsOptions_UseGlobalMessageDelivery(opts, true);
  if (s == NATS_OK) {
    s = Nats().natsOptions_SetPingInterval(opts, options_.ping_interval_ms);
  }
  if (s == NATS_OK) {
    s = Nats().natsOptions_SetMaxPingsOut(opts, options_.max_pings_out);
  }
  if (s == NATS_OK) {
    s = Nats().natsOptions_SetRetryOnFailedConnect(
        opts, true, &NatsCallbacks::OnConnected, closure);
  }
  if (s == NATS_OK) {
    s = Nats().natsOptions_SetDisconnectedCB(
        opts, &NatsCallbacks::OnDisconnected, closure);
  }
  if (s == NATS_OK) {
    s = Nats().natsOptions_SetReconnectedCB(opts, &NatsCallbacks::OnReconnected,
                                            closure);
  }
  if (s == NATS_OK) {
    s = Nats().natsOptions_SetErrorHandler(opts, &NatsCallbacks::OnError,
                                           closure);
  }
  if (s == NATS_OK && !options_.token.empty()) {
    s = Nats().natsOptions_SetToken(opts, options_.token.c_str());
  }
  if (s == NATS_OK && !options_.user.empty()) {
    s = Nats().natsOptions_SetUserInfo(opts, options_.user.c_str(),
                                       options_.password.c_str());
  }
  if (s == NATS_OK) s = Nats().natsConnection_Connect(&connection_, opts);
  Nats().natsOptions_Destroy(opts);
  // Presence is shared from the start (libnats sends the subscription as
  // soon as it is connected).
  if ((s == NATS_OK || s == NATS_NOT_YET_CONNECTED) && callbacks_.on_presence) {
    const natsStatus sub = Nats().natsConnection_Subscribe(
        &presence_sub_, connection_, kPresenceSubject,
        &NatsCallbacks::OnPresence, self_.get());
    if (sub != NATS_OK) return FromNats(sub, "NATS subscribe (presence)");
  }
  if ((s == NATS_OK || s == NATS_NOT_YET_CONNECTED) && callbacks_.on_interest) {
    const natsStatus sub = Nats().natsConnection_Subscribe(
        &interest_sub_, connection_, kInterestSubject,
        &NatsCallbacks::OnInterest, self_.get());
    if (sub != NATS_OK) return FromNats(sub, "NATS subscribe (interest)");
  }
  if ((s == NATS_OK || s == NATS_NOT_YET_CONNECTED) &&
      !options_.broker_id.empty()) {
    const std::string hex = absl::BytesToHexString(options_.broker_id);
    natsStatus sub = Nats().natsConnection_Subscribe(
        &alive_sub_, connection_, absl::StrCat(kAlivePrefix, hex).c_str(),
        &NatsCallbacks::OnAlive, self_.get());
    if (sub == NATS_OK) {
      sub = Nats().natsConnection_Subscribe(
          &probe_sub_, connection_,
          absl::StrCat(kProbePrefix, hex, ".*").c_str(),
          &NatsCallbacks::OnProbe, self_.get());
    }
    if (sub != NATS_OK) return FromNats(sub, "NATS subscribe (probes)");
  }
  // With retry on failed connect, NATS_NOT_YET_CONNECTED means "connecting
  // in the background": OnConnected reports it.
  if (s == NATS_NOT_YET_CONNECTED) return absl::OkStatus();
  if (s == NATS_OK) {
    up_ = true;
    if (callbacks_.on_state) callbacks_.on_state(true, "");
    return absl::OkStatus();
  }
  return FromNats(s, "NATS connect");
}

void NatsLink::Interest(const std::string& channel, bool first) {
  if (first) {
    natsSubscription* sub = nullptr;
    const std::string subject = Subject(channel);
    natsStatus s =
        Nats().natsConnection_Subscribe(&sub, connection_, subject.c_str(),
                                        &NatsCallbacks::OnMessage, self_.get());
    if (s != NATS_OK) {
      CHANNEL_LOG_LIMITED(spdlog::level::err,
                          "NATS subscribe to channel '{}' failed: {}",
                          absl::CHexEscape(channel.substr(0, 64)),
                          Nats().natsStatus_GetText(s));
      return;
    }
    Nats().natsSubscription_SetPendingLimits(sub, options_.max_pending_messages,
                                             options_.max_pending_bytes);
    subscriptions_[channel] = sub;
    return;
  }
  auto it = subscriptions_.find(channel);
  if (it == subscriptions_.end()) return;
  Nats().natsSubscription_Unsubscribe(it->second);
  Nats().natsSubscription_Destroy(it->second);
  subscriptions_.erase(it);
}

void NatsLink::Probe(absl::string_view broker) {
  if (!up_ || options_.broker_id.empty()) return;
  const std::string them = absl::BytesToHexString(broker);
  const std::string subject = absl::StrCat(kAlivePrefix, them);
  const std::string reply = absl::StrCat(
      kProbePrefix, absl::BytesToHexString(options_.broker_id), ".", them);
  Nats().natsConnection_PublishRequest(connection_, subject.c_str(),
                                       reply.c_str(), "", 0);
}

void NatsLink::Flush(int timeout_ms) {
  if (up_) Nats().natsConnection_FlushTimeout(connection_, timeout_ms);
}

void NatsLink::PublishControl(const char* subject, const std::string& bytes) {
  if (!up_) return;
  if (Nats().natsConnection_Publish(connection_, subject, bytes.data(),
                                    static_cast<int>(bytes.size())) ==
      NATS_OK) {
    stats_.bytes_out += bytes.size();  // not an event: bytes only
  }
}

absl::Status NatsLink::Forward(const v1::Envelope& event) {
  if (!up_) return absl::UnavailableError("NATS is down");
  event.event().SerializeToString(&scratch_);
  const std::string subject = Subject(event.event().channel());
  natsStatus s = Nats().natsConnection_Publish(
      connection_, subject.c_str(), scratch_.data(),
      static_cast<int>(scratch_.size()));
  if (s != NATS_OK) return FromNats(s, "NATS publish");
  ++stats_.messages_out;
  stats_.bytes_out += scratch_.size();
  return absl::OkStatus();
}

}  // namespace channel
