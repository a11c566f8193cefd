#ifndef CHANNEL_COMMON_PRESENCE_MEMBER_JSON_H_
#define CHANNEL_COMMON_PRESENCE_MEMBER_JSON_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace channel {

// The JSON of presence members (docs/CLIENT-PROTOCOL.md "Presence
// members"), built by the broker (events, lists) and the gateway (join
// replies, changes it tells after a resync) alike.

// Metadata.payload_codec of the broker's presence events.
inline constexpr char kMembersCodec[] = "members";
inline constexpr char kMemberAddedCodec[] = "member_added";
inline constexpr char kMemberRemovedCodec[] = "member_removed";

inline bool IsMemberCodec(absl::string_view codec) {
  return codec == kMembersCodec || codec == kMemberAddedCodec ||
         codec == kMemberRemovedCodec;
}

// A group's members, user -> info (a JSON object's canonical text, "{}"
// when it has none), in user order.
using MemberList = std::map<std::string, std::string, std::less<>>;

// `text` (a token's info claim, a report's info) as canonical JSON text: an
// object of at most `max_bytes` (after re-encoding) and nesting depth 8;
// empty text is "{}". InvalidArgument otherwise.
absl::StatusOr<std::string> NormalizeMemberInfo(absl::string_view text,
                                                size_t max_bytes);

// {"type":"member_added"|"member_removed","group":G,"user":U,"info":I}.
// `info` must be canonical (NormalizeMemberInfo); it is embedded as is.
std::string MemberEventJson(bool added, absl::string_view group,
                            absl::string_view user, absl::string_view info);

// [{"user":U,"info":I},...]: the members, in order.
std::string MemberListJson(const MemberList& members);

// The inverse of MemberListJson, for a list from the broker: at most
// `max_members` entries, each info canonical again. InvalidArgument on
// anything else.
absl::StatusOr<MemberList> ParseMemberList(absl::string_view text,
                                           size_t max_members);

// The info of a member_added event's JSON (MemberEventJson), canonical.
absl::StatusOr<std::string> MemberEventInfo(absl::string_view text);

}  // namespace channel

#endif  // CHANNEL_COMMON_PRESENCE_MEMBER_JSON_H_
