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
    kPresence,
    kHistory,
    kWhoami,  // {"cmd":"whoami"}: the connection's client id
    // Any other cmd while application events are on
    // (CommandLimits::custom_commands): `name` is its cmd, `message` the
    // whole command object as the client sent it, for the backend.
    kCustom
  };
  Type type = Type::kAddGroup;
  std::string group_id;  // decimal text when the client sent an integer
  std::string message;   // text to deliver: a JSON string decoded, else JSON
  bool exclude_self = false;
  std::string token;    // auth: the token; add_group: a join token, if any
  std::string id_json;  // the "id" value re-encoded as JSON; empty if none
  std::string name;     // kCustom: the cmd
  // add_group: "since":{"offset":N,"epoch":"E"} (history groups resume).
  bool has_since = false;
  uint64_t since_offset = 0;
  std::string since_epoch;
  // history: "limit" (default kDefaultHistoryLimit) and "before" (0: none).
  uint64_t limit = 0;
  uint64_t before = 0;
};

inline constexpr uint64_t kDefaultHistoryLimit = 50;

struct CommandLimits {
  size_t max_group_id_bytes = 128;
  size_t max_id_bytes = 64;       // serialized "id"
  size_t max_message_depth = 32;  // nesting of a non-string message
  // Nesting of the whole frame, bounded while it is parsed (any field, any
  // garbage): past it the parse stops, so its cost stays that of a few
  // bytes.
  size_t max_command_depth = 64;
  size_t max_token_bytes = 8192;
  size_t max_epoch_bytes = 64;
  // Commands other than the built-ins are kCustom (for the application's
  // backend) instead of refused with unknown_cmd.
  bool custom_commands = false;
  size_t max_cmd_bytes = 64;  // a custom command's name
};

// Decodes one text frame. Pure and allocation-light; never throws, whatever
// the input. A refusal is InvalidArgument carrying the wire code and, when
// it could be read, the command's id (command_error.h: CommandErrorCode,
// CommandErrorId); its message is the text for the client.
absl::StatusOr<Command> ParseCommand(absl::string_view text,
                                     const CommandLimits& limits);

}  // namespace channel

#endif  // CHANNEL_GATEWAY_COMMANDS_COMMAND_H_
