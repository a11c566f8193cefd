#ifndef CHANNEL_GATEWAY_APP_APP_ACTION_H_
#define CHANNEL_GATEWAY_APP_APP_ACTION_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace channel {

// One action of the application on one of its connections, decoded from
// the JSON a backend publishes to the connection's node channel
// (docs/PROTOCOL.md "Actions"):
//   {"action":"send","client":ID,"message":M}
//   {"action":"reply","client":ID,"request":N,"data":D}
//   {"action":"reply","client":ID,"request":N,"error":CODE,"message":TEXT}
//   {"action":"join"|"leave","client":ID,"group_id":G}
//   {"action":"bind","client":ID,"user":U}
//   {"action":"close","client":ID,"code":C,"reason":R}
//   {"action":"info","client":ID}
// Every action may carry "reply_to" (a channel) and "ref" (any string or
// number): its result is then published there, with "ref" echoed
// ({"ref":R,"client":ID,"ok":B,...}). "info" needs reply_to.
struct AppAction {
  enum class Type { kSend, kReply, kJoin, kLeave, kBind, kClose, kInfo };
  Type type = Type::kSend;
  std::string client;
  std::string message;     // send: text (a JSON string decoded, else JSON);
                           // reply with error: the error's text
  uint64_t request = 0;    // reply: the event's "request"
  std::string data_json;   // reply: "data" as JSON; empty: none
  std::string error_code;  // reply: non-empty refuses the request
  std::string group;       // join, leave
  std::string user;        // bind
  uint16_t code = 1000;    // close
  std::string reason;      // close
  std::string reply_to;    // where the result goes; empty: nowhere
  std::string ref_json;    // "ref" as JSON; empty: none
};

struct AppActionLimits {
  size_t max_depth = 64;          // nesting of the whole action
  size_t max_message_depth = 32;  // of "message" and "data"
  size_t max_client_bytes = 64;
  size_t max_group_id_bytes = 128;
  size_t max_user_bytes = 256;
  size_t max_reason_bytes = 123;   // a WebSocket close reason's bound
  size_t max_code_bytes = 64;      // a reply's error code
  size_t max_channel_bytes = 256;  // reply_to
  size_t max_ref_bytes = 64;
};

// Strict: unknown actions, missing or mistyped fields, over-long values and
// close codes a server may not send are InvalidArgument with the reason.
// Never throws; the cost is bounded by the text's size (nesting is bounded
// while parsing).
absl::StatusOr<AppAction> ParseAppAction(absl::string_view text,
                                         const AppActionLimits& limits);

}  // namespace channel

#endif  // CHANNEL_GATEWAY_APP_APP_ACTION_H_
