#ifndef CHANNEL_COMMON_APP_ACTION_JSON_H_
#define CHANNEL_COMMON_APP_ACTION_JSON_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace channel {

// Builds the JSON of an application action (docs/PROTOCOL.md "Actions")
// for a backend written here (channel-cli, the broker's HTTP API); the
// gateway's parser (gateway/app/app_action.h) reads it. One owner of the
// spelling on the sending side.
struct ActionRequest {
  std::string action;  // send, reply, join, leave, bind, close, info
  std::string client;
  std::string message;  // send: the text (or JSON if message_is_json)
  bool message_is_json = false;
  std::string group;      // join, leave
  std::string user;       // bind
  uint32_t code = 0;      // close: 0 = the gateway's default (1000)
  std::string reason;     // close
  uint64_t request = 0;   // reply: the event's request number
  std::string data_json;  // reply: the answer's data as JSON (optional)
  std::string error;      // reply: a refusal's code (message: its text)
  std::string reply_to;
  std::string ref;  // echoed as a string in the result
};

// The action's JSON text. InvalidArgument for an unknown action, a missing
// field it needs, or message_is_json with text that is not JSON.
absl::StatusOr<std::string> ActionJson(const ActionRequest& request);

}  // namespace channel

#endif  // CHANNEL_COMMON_APP_ACTION_JSON_H_
