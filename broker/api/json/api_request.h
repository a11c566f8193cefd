#ifndef CHANNEL_BROKER_API_JSON_API_REQUEST_H_
#define CHANNEL_BROKER_API_JSON_API_REQUEST_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace channel {

// A decoded POST /api/publish body (docs/API.md): the broker channels to
// publish on ("group:G", "user:U", "all") and the message text (a JSON
// string's text; any other JSON value as its JSON text, as ws-gateway does
// for browser senders).
struct ApiPublish {
  std::vector<std::string> channels;
  std::string message;
};

// A request refused, as the reply tells it (ApiErrorJson): a stable code
// and the HTTP status.
struct ApiError {
  int status = 400;
  std::string code;     // invalid_json, missing_target, invalid_field, ...
  std::string message;  // for humans; never echoes unbounded input
  // A publish refused as a whole: adds "published":false to the JSON.
  bool not_published = false;
};

struct ApiLimits {
  size_t max_targets = 1000;  // group_ids + user_ids in one request
  size_t max_id_bytes = 128;  // one group or user id
  size_t max_message_depth = 32;
};

// Parses one publish body with RapidJSON (iterative: nesting cannot exhaust
// the stack). Exactly one target kind: group_id, group_ids, user_id,
// user_ids or "all": true. Group ids may be strings or integers ("123" and
// 123 are one group), as browsers send them. A refusal is InvalidArgument:
// its message is the client's text, and it carries the stable code
// (invalid_json, missing_target, ...) as a payload under kApiErrorCodeUrl;
// ApiErrorOf turns it into the reply.
absl::StatusOr<ApiPublish> ParseApiPublish(absl::string_view body,
                                           const ApiLimits& limits);

// The payload type URL of a ParseApiPublish refusal's code.
inline constexpr absl::string_view kApiErrorCodeUrl =
    "type.channel/channel.ApiError.code";

// A refusal of a request (HTTP 400): InvalidArgument with `message` for the
// client and `code` as its payload under kApiErrorCodeUrl.
absl::Status ApiRefusal(absl::string_view code, absl::string_view message);

// The reply to a ParseApiPublish refusal: HTTP 400, its code and message.
ApiError ApiErrorOf(const absl::Status& status);

// {"ok":false,"error":{"code":...,"message":...}}, with "published":false
// after "ok" when error.not_published.
std::string ApiErrorJson(const ApiError& error);

// The value of query parameter `name` in `query` (the text after '?'):
// the first occurrence, percent-decoded, '+' as a space; nullopt when
// absent. Malformed escapes are kept as they are.
std::optional<std::string> ApiQueryParam(absl::string_view query,
                                         absl::string_view name);

}  // namespace channel

#endif  // CHANNEL_BROKER_API_JSON_API_REQUEST_H_
