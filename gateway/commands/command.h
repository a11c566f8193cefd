#ifndef CHANNEL_GATEWAY_COMMANDS_COMMAND_H_
#define CHANNEL_GATEWAY_COMMANDS_COMMAND_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace channel {

// One client command, decoded from a JSON text frame
// (docs/CLIENT-PROTOCOL.md).
struct Command {
  enum class Type {
    kAddGroup,
    kLeaveGroup,
    kSendToGroup,
    kSendToAll,
    kAuth,
    kPresence
  };
  Type type = Type::kAddGroup;
  std::string group_id;  // decimal text when the client sent an integer
  std::string message;   // text to deliver: a JSON string decoded, else JSON
  bool exclude_self = false;
  std::string token;    // auth: the token; add_group: a join token, if any
  std::string id_json;  // the "id" value re-encoded as JSON; empty if none
};

struct CommandLimits {
  size_t max_group_id_bytes = 128;
  size_t max_id_bytes = 64;       // serialized "id"
  size_t max_message_depth = 32;  // nesting of a non-string message
  // Nesting of the whole frame, bounded while it is parsed (any field, any
  // garbage): past it the parse stops, so its cost stays that of a few
  // bytes.
  size_t max_command_depth = 64;
  size_t max_token_bytes = 8192;
};

// Decodes one text frame. Pure and allocation-light; never throws, whatever
// the input. A refusal is InvalidArgument carrying the wire code and, when
// it could be read, the command's id (command_error.h: CommandErrorCode,
// CommandErrorId); its message is the text for the client.
absl::StatusOr<Command> ParseCommand(absl::string_view text,
                                     const CommandLimits& limits);

// {"id":ID,"ok":true}
std::string OkReply(absl::string_view id_json);
// {"id":ID,"ok":true,"group_id":G,"connections":N,"users":U} ("id" omitted
// if empty)
std::string PresenceReply(absl::string_view id_json, absl::string_view group,
                          uint64_t connections, uint64_t users);
// {"id":ID,"error":{"code":CODE,"message":MESSAGE}} ("id" omitted if empty)
std::string ErrorReply(absl::string_view id_json, absl::string_view code,
                       absl::string_view message);
// The notice that messages may have been missed (the worker's broker link
// was down for `down_ms`): {"type":"gap","message":M} in JSON framing, the
// unsolicited error {"error":{"code":"gap","message":M}} otherwise.
std::string GapNotice(bool json_framing, int64_t down_ms);

}  // namespace channel

#endif  // CHANNEL_GATEWAY_COMMANDS_COMMAND_H_
