#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "broker/cluster/nats/nats_link.h"
#include "broker/cluster/nats/nats_link_internal.h"
#include "common/logging/log_limiter.h"
#include "common/logging/logging.h"

// NatsLink's connecting, subscribing and publishing (the broker thread's
// calls into libnats); receiving is in nats_link.cc.
namespace channel {

using nats_link_internal::FromNats;
using nats_link_internal::kAlivePrefix;
using nats_link_internal::kProbePrefix;
using nats_link_internal::kQueuePrefix;

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
    if (callbacks_.on_queue) {
      sub = Nats().natsConnection_Subscribe(
          &queue_sub_, connection_, absl::StrCat(kQueuePrefix, hex).c_str(),
          &NatsCallbacks::OnQueue, self_.get());
      if (sub != NATS_OK) return FromNats(sub, "NATS subscribe (queues)");
      Nats().natsSubscription_SetPendingLimits(queue_sub_,
                                               options_.max_pending_messages,
                                               options_.max_pending_bytes);
    }
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

bool NatsLink::PublishQueue(absl::string_view broker,
                            const std::string& bytes) {
  if (!up_) return false;
  const std::string subject =
      absl::StrCat(kQueuePrefix, absl::BytesToHexString(broker));
  if (Nats().natsConnection_Publish(connection_, subject.c_str(), bytes.data(),
                                    static_cast<int>(bytes.size())) !=
      NATS_OK) {
    return false;
  }
  ++stats_.messages_out;
  stats_.bytes_out += bytes.size();
  return true;
}

void NatsLink::StopControl() {
  for (natsSubscription* sub : {interest_sub_, alive_sub_, probe_sub_}) {
    if (sub != nullptr) Nats().natsSubscription_Unsubscribe(sub);
  }
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
