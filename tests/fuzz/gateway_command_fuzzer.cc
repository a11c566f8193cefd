// libFuzzer target: a WebSocket text frame from a client. Command parsing
// and validation, the reply built from its outcome (always valid JSON of
// bounded size), and any token it carries through the TokenVerifier (libjwt
// and the claim checks: a verdict with a reason, never a crash).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "gateway/auth/token_verifier.h"
#include "gateway/commands/command.h"
#include "gateway/commands/command_error.h"
#include "gateway/commands/replies.h"
#include "rapidjson/document.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  channel::CommandLimits limits;
  limits.max_group_id_bytes = 16;
  // Odd sizes parse as a gateway with --events: other cmds are custom.
  limits.custom_commands = size % 2 == 1;
  absl::StatusOr<channel::Command> parsed = channel::ParseCommand(text, limits);
  std::string reply;
  if (parsed.ok()) {
    const channel::Command& command = *parsed;
    if (command.group_id.size() > limits.max_group_id_bytes) std::abort();
    if (command.type != channel::Command::Type::kSendToAll &&
        command.type != channel::Command::Type::kAuth &&
        command.type != channel::Command::Type::kWhoami &&
        command.type != channel::Command::Type::kCustom &&
        command.group_id.empty()) {
      std::abort();
    }
    // A custom command goes to the backend as the client sent it: the
    // whole (valid) object, its name bounded.
    if (command.type == channel::Command::Type::kCustom &&
        (!limits.custom_commands || command.message != text ||
         command.name.empty() || command.name.size() > limits.max_cmd_bytes)) {
      std::abort();
    }
    if (command.token.size() > limits.max_token_bytes) std::abort();
    if (!command.token.empty()) {
      static const channel::TokenVerifier* verifier = [] {
        channel::TokenVerifier::Options options;
        options.hmac_secret = "0123456789abcdef0123456789abcdef";
        return new channel::TokenVerifier(
            *channel::TokenVerifier::Create(options));
      }();
      auto result = verifier->Verify(command.token, 1700000000);
      if (!result.ok() && channel::TokenRejectReason(result.status()).empty()) {
        std::abort();
      }
    }
    if (!command.id_json.empty()) reply = channel::OkReply(command.id_json);
  } else {
    const std::string code = channel::CommandErrorCode(parsed.status());
    if (code.empty() || parsed.status().message().size() > 200) std::abort();
    reply = channel::ErrorReply(channel::CommandErrorId(parsed.status()), code,
                                parsed.status().message());
  }
  if (!reply.empty()) {
    rapidjson::Document doc;
    doc.Parse(reply.data(), reply.size());
    if (doc.HasParseError() || !doc.IsObject() || reply.size() > 400)
      std::abort();
  }
  return 0;
}
