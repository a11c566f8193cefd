#include "broker/cluster/nats/nats_link.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "broker/cluster/nats/nats_link_internal.h"
#include "common/logging/logging.h"

namespace channel {

using nats_link_internal::kSubjectPrefix;

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
  if (queue_sub_ != nullptr) Nats().natsSubscription_Destroy(queue_sub_);
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
  if (control == Control::kQueue) {
    ++stats_.messages_in;
    if (callbacks_.on_queue) callbacks_.on_queue(data);
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

}  // namespace channel
