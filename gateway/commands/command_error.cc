#include "gateway/commands/command_error.h"

#include "absl/strings/cord.h"

namespace channel {
namespace {

std::string PayloadText(const absl::Status& status, absl::string_view url) {
  const auto payload = status.GetPayload(url);  // absl::optional<Cord>
  return payload ? std::string(*payload) : std::string();
}

}  // namespace

absl::Status MakeCommandError(absl::string_view code, absl::string_view message,
                              absl::string_view id_json) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kCommandErrorCodeUrl, absl::Cord(code));
  if (!id_json.empty())
    status.SetPayload(kCommandErrorIdUrl, absl::Cord(id_json));
  return status;
}

std::string CommandErrorCode(const absl::Status& status) {
  return PayloadText(status, kCommandErrorCodeUrl);
}

std::string CommandErrorId(const absl::Status& status) {
  return PayloadText(status, kCommandErrorIdUrl);
}

}  // namespace channel
