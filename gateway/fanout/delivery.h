#ifndef CHANNEL_GATEWAY_FANOUT_DELIVERY_H_
#define CHANNEL_GATEWAY_FANOUT_DELIVERY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/channel_names.h"  // the channel names a Delivery carries

namespace channel {

// One broker event on its way from a worker's broker link (ShardLink) to
// that worker's connections. The payload is shared by the recipients of the
// worker: copied once into a WebSocket frame batch, never per recipient.
//
// A burst fills a turn's batch with thousands of these, so the common case
// (a group or broadcast message, nothing else) is 64 bytes: what only some
// events carry lives out of line in `Rare`, allocated when first set.
// Copies are deep.
struct Delivery {
  struct Rare {
    // Connection ids of this gateway that must not receive it
    // (exclude_self).
    std::vector<uint64_t> exclude;
    std::string sender;  // the sending user's id, if known (JSON framing)
    // History channels: the event's offset in its stream and the stream's
    // epoch (docs/CLIENT-PROTOCOL.md "History"); 0 otherwise.
    uint64_t offset = 0;
    std::string epoch;
    // A member event's member: its connections do not get the event.
    std::string skip_user;
  };

  bool to_all = false;  // send_to_all: every connection of the worker
  // A presence member change (member_added / member_removed): `payload` is
  // the JSON object itself, sent as it is to JSON-framing members only and
  // not to the connections of skip_user() (the member itself).
  bool member_event = false;
  std::string channel;  // when !to_all: "group:G" or "user:U"
  std::shared_ptr<const std::string> payload;
  std::unique_ptr<Rare> rare;  // null: every Rare field is empty or 0

  Delivery() = default;
  Delivery(Delivery&&) noexcept = default;
  Delivery& operator=(Delivery&&) noexcept = default;
  Delivery(const Delivery& other)
      : to_all(other.to_all),
        member_event(other.member_event),
        channel(other.channel),
        payload(other.payload),
        rare(other.rare ? std::make_unique<Rare>(*other.rare) : nullptr) {}
  Delivery& operator=(const Delivery& other) {
    if (this != &other) *this = Delivery(other);
    return *this;
  }

  // The out-of-line fields, allocated on first use.
  Rare& mutable_rare() {
    if (!rare) rare = std::make_unique<Rare>();
    return *rare;
  }
  const std::vector<uint64_t>& exclude() const {
    return rare ? rare->exclude : Empty().exclude;
  }
  const std::string& sender() const {
    return rare ? rare->sender : Empty().sender;
  }
  uint64_t offset() const { return rare ? rare->offset : 0; }
  const std::string& epoch() const {
    return rare ? rare->epoch : Empty().epoch;
  }
  const std::string& skip_user() const {
    return rare ? rare->skip_user : Empty().skip_user;
  }
  // Bytes this delivery holds, the shared payload counted whole.
  size_t bytes() const {
    return sizeof(Delivery) + (payload ? payload->size() : 0) +
           (rare ? sizeof(Rare) : 0);
  }

 private:
  static const Rare& Empty() {
    static const Rare none;
    return none;
  }
};

// Exclusions read from one event at most (a gateway sends one: the sender
// of an exclude_self message).
inline constexpr int kMaxExclude = 8;

}  // namespace channel

#endif  // CHANNEL_GATEWAY_FANOUT_DELIVERY_H_
