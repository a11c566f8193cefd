// libFuzzer target: an application action as a backend publishes it to a
// gateway worker's node channel (any bytes: the channel is open to every
// broker client). Parsing is strict and bounded; a parsed action's result
// and the events built around it are always valid JSON; what the action
// builder writes for a parsed action parses back to the same action.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/app/action_json.h"
#include "gateway/app/app_action.h"
#include "gateway/app/app_event.h"
#include "rapidjson/document.h"

namespace {

void MustBeJson(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  channel::AppActionLimits limits;
  absl::StatusOr<channel::AppAction> parsed =
      channel::ParseAppAction(text, limits);
  if (!parsed.ok()) {
    if (parsed.status().message().empty() ||
        parsed.status().message().size() > 300) {
      std::abort();
    }
    return 0;
  }
  const channel::AppAction& a = *parsed;
  if (a.client.empty() || a.client.size() > limits.max_client_bytes ||
      a.group.size() > limits.max_group_id_bytes ||
      a.reason.size() > limits.max_reason_bytes ||
      a.ref_json.size() > limits.max_ref_bytes ||
      (a.type == channel::AppAction::Type::kReply && a.request == 0) ||
      (a.type == channel::AppAction::Type::kClose && a.code != 1000 &&
       (a.code < 3000 || a.code > 4999))) {
    std::abort();
  }
  channel::ActionResult result;
  result.ref_json = a.ref_json;
  result.client = a.client;
  result.ok = a.error_code.empty();
  result.error = a.error_code;
  result.message = a.message;
  result.info = a.type == channel::AppAction::Type::kInfo;
  result.user = a.user;
  MustBeJson(channel::ActionResultJson(result));
  const channel::EventBase base{a.client, a.user, 1};
  MustBeJson(channel::GroupEvent(base, true, a.group));
  MustBeJson(channel::CloseEvent(base, a.code, a.reason, {a.group}));
  // The sending side's builder agrees with the parser (actions it can
  // build: the ones a backend sends without a request).
  channel::ActionRequest request;
  request.client = a.client;
  request.group = a.group;
  request.user = a.user;
  request.reason = a.reason;
  switch (a.type) {
    case channel::AppAction::Type::kSend:
      request.action = "send";
      request.message = a.message;
      break;
    case channel::AppAction::Type::kJoin:
      request.action = "join";
      break;
    case channel::AppAction::Type::kBind:
      request.action = "bind";
      break;
    case channel::AppAction::Type::kClose:
      request.action = "close";
      request.code = a.code;
      break;
    default:
      return 0;
  }
  absl::StatusOr<std::string> built = channel::ActionJson(request);
  if (!built.ok()) return 0;  // e.g. a client id without a node
  absl::StatusOr<channel::AppAction> again =
      channel::ParseAppAction(*built, limits);
  if (!again.ok() || again->type != a.type || again->client != a.client ||
      again->message != a.message || again->group != a.group ||
      again->user != a.user || again->code != a.code ||
      again->reason != a.reason) {
    std::abort();
  }
  return 0;
}
