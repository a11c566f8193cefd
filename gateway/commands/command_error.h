#ifndef CHANNEL_GATEWAY_COMMANDS_COMMAND_ERROR_H_
#define CHANNEL_GATEWAY_COMMANDS_COMMAND_ERROR_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace channel {

// A refused client command as an absl::Status: what ParseCommand returns,
// and all the gateway needs to answer it with ErrorReply
// (docs/CLIENT-PROTOCOL.md "Errors"):
//  - the message: the human text, sent as it is (never echoes unbounded
//    input);
//  - the payload under kCommandErrorCodeUrl: the stable, machine-readable
//    wire code ("invalid_json", "unknown_cmd", ...), always present;
//  - the payload under kCommandErrorIdUrl: the command's "id" re-encoded
//    as JSON, present only when the id could be read, so that the reply
//    can be addressed to it.
// The code of the Status itself is InvalidArgument.
inline constexpr absl::string_view kCommandErrorCodeUrl =
    "type.channel/channel.CommandError.code";
inline constexpr absl::string_view kCommandErrorIdUrl =
    "type.channel/channel.CommandError.id_json";

// InvalidArgument with `message`, carrying `code` and, when not empty,
// `id_json`.
absl::Status MakeCommandError(absl::string_view code, absl::string_view message,
                              absl::string_view id_json = "");

// The wire code a refusal carries; empty when `status` carries none (OK,
// or not a command refusal).
std::string CommandErrorCode(const absl::Status& status);

// The refused command's "id" as JSON; empty when it had none or it could
// not be read (the reply then has no "id").
std::string CommandErrorId(const absl::Status& status);

}  // namespace channel

#endif  // CHANNEL_GATEWAY_COMMANDS_COMMAND_ERROR_H_
