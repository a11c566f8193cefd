#ifndef CHANNEL_GATEWAY_PRESENCE_MEMBER_MIRROR_H_
#define CHANNEL_GATEWAY_PRESENCE_MEMBER_MIRROR_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "common/presence/member_json.h"
#include "proto/channel.pb.h"

namespace channel {

// One worker's copy of the member lists of the presence groups it holds
// (docs/CLIENT-PROTOCOL.md "Presence members"), kept from the broker's
// presence events on the group channels: the whole list when the worker
// subscribes ("members", before the Subscribe Ack), then each arrival
// and departure. It answers a join with the list, and turns the broker's
// events into what the worker's members are told: a change is told once
// (an arrival of a member already listed, a departure of one not listed,
// is nothing), and a whole list that differs from the copy (after a
// reconnect or a broker restart's grace) is told as its differences, so
// that members see every change once and no departed member stays
// listed. Same thread as its worker; bounded by the groups the worker
// holds times their max_members.
class MemberMirror {
 public:
  // What to tell the worker's members of `group`: `json`, except the
  // connections of `user` (their own arrival is in their join reply).
  struct Tell {
    std::string group;
    std::string user;
    std::string json;
  };

  // A broker event of group `group_id` whose payload_codec is one of the
  // member codecs (kMembersCodec, ...); other events are not for it.
  // Appends what to tell to `out`. false: malformed (the copy is
  // unchanged; the caller logs it).
  bool OnEvent(const std::string& group_id, const v1::Metadata& meta,
               const std::string& payload, std::vector<Tell>* out);

  // The list of `group_id`, or nullptr before its first list arrived.
  const MemberList* Find(absl::string_view group_id) const;
  // The worker no longer holds the group: its list is forgotten (the next
  // subscription brings a new one).
  void Drop(absl::string_view group_id) { groups_.erase(group_id); }
  size_t group_count() const { return groups_.size(); }

 private:
  absl::flat_hash_map<std::string, MemberList> groups_;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_PRESENCE_MEMBER_MIRROR_H_
