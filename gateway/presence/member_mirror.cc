#include "gateway/presence/member_mirror.h"

#include <utility>

#include "common/presence/presence_rules.h"

namespace channel {

bool MemberMirror::OnEvent(const std::string& group_id,
                           const v1::Metadata& meta, const std::string& payload,
                           std::vector<Tell>* out) {
  const std::string& codec = meta.payload_codec();
  if (codec == kMembersCodec) {
    absl::StatusOr<MemberList> list =
        ParseMemberList(payload, PresenceRules::kMaxMembers);
    if (!list.ok()) return false;
    auto it = groups_.find(group_id);
    if (it == groups_.end()) {
      // The list of a new subscription: its first member's join reply
      // carries it; nobody here was told anything before.
      groups_.emplace(group_id, *std::move(list));
      return true;
    }
    // During a broker restart's grace a list may lack members whose
    // gateways have not reported yet: the copy stands until the whole
    // lists come at its end.
    if (meta.key() == "partial") return true;
    MemberList& old = it->second;
    for (const auto& [user, info] : old) {
      if (list->count(user) == 0) {
        out->push_back(
            {group_id, user, MemberEventJson(false, group_id, user, info)});
      }
    }
    for (const auto& [user, info] : *list) {
      if (old.count(user) == 0) {
        out->push_back(
            {group_id, user, MemberEventJson(true, group_id, user, info)});
      }
    }
    old = *std::move(list);
    return true;
  }
  auto it = groups_.find(group_id);
  if (it == groups_.end()) return true;  // left meanwhile: not for anyone
  const std::string& user = meta.sender();
  if (codec == kMemberAddedCodec) {
    if (it->second.count(user) > 0) return true;
    absl::StatusOr<std::string> info = MemberEventInfo(payload);
    if (!info.ok()) return false;
    it->second.emplace(user, *std::move(info));
    out->push_back({group_id, user, payload});
    return true;
  }
  if (codec == kMemberRemovedCodec) {
    if (it->second.erase(user) == 0) return true;
    out->push_back({group_id, user, payload});
    return true;
  }
  return false;
}

const MemberList* MemberMirror::Find(absl::string_view group_id) const {
  auto it = groups_.find(group_id);
  return it == groups_.end() ? nullptr : &it->second;
}

}  // namespace channel
