#ifndef CHANNEL_GATEWAY_COMMANDS_REPLIES_H_
#define CHANNEL_GATEWAY_COMMANDS_REPLIES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace channel {

// The gateway's replies and notices to clients (docs/CLIENT-PROTOCOL.md),
// as JSON text. `id_json` is the command's "id" as the client sent it,
// re-encoded; empty: no "id" in the reply.

// {"id":ID,"ok":true}
std::string OkReply(absl::string_view id_json);
// {"id":ID,"ok":true,"group_id":G,"connections":N,"users":U}
std::string PresenceReply(absl::string_view id_json, absl::string_view group,
                          uint64_t connections, uint64_t users);
// {"id":ID,"ok":true,"client":CLIENT}: whoami's answer.
std::string WhoamiReply(absl::string_view id_json, absl::string_view client);
// {"id":ID,"error":{"code":CODE,"message":MESSAGE}}
std::string ErrorReply(absl::string_view id_json, absl::string_view code,
                       absl::string_view message);

// The answer to a join that is more than ok:
// {"id":ID,"ok":true[,"recovered":B][,"offset":N,"epoch":"E"]}: recovered
// when the join asked for it (since), the position for a history group.
struct JoinPosition {
  bool has_position = false;
  uint64_t offset = 0;
  std::string epoch;
  bool asked_recovery = false;
  bool recovered = false;
  // A presence group: its member list (MemberListJson), as "members".
  std::string members_json;
};
std::string JoinReply(absl::string_view id_json, const JoinPosition& position);

// {"id":ID,"ok":true,"offset":N,"epoch":"E","messages":[{"offset":O,
// "message":M[,"from":U]},...][,"truncated":true]}
struct HistoryItem {
  uint64_t offset = 0;
  absl::string_view message;
  absl::string_view from;  // empty: no "from"
};
std::string HistoryReply(absl::string_view id_json, uint64_t offset,
                         absl::string_view epoch,
                         const std::vector<HistoryItem>& items, bool truncated);

// The notice that messages may have been missed: the worker's broker link
// was down for `down_ms` and these of the connection's channels could not
// be recovered. JSON framing: {"type":"gap","groups":[...],"all":B,
// "user":B,"message":M}; else the unsolicited error
// {"error":{"code":"gap","message":M},"groups":[...],"all":B,"user":B}.
struct GapInfo {
  int64_t down_ms = 0;
  std::vector<absl::string_view> groups;
  bool all = false;   // a send_to_all may be missing
  bool user = false;  // a message to the connection's user may be missing
};
std::string GapNotice(bool json_framing, const GapInfo& gap);

}  // namespace channel

#endif  // CHANNEL_GATEWAY_COMMANDS_REPLIES_H_
