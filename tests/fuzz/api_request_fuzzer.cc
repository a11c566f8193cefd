// libFuzzer target: a POST /api/publish body, and the same bytes as the
// body of every POST /api/clients/{id}/ACTION. The publish parser's
// verdict is a publish with 1..max_targets channels and a message, or an
// error with a code and a 4xx status; its error JSON is always valid. A
// client action the API accepts is one the action builder can write (and
// so the gateway can read).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "broker/api/json/api_clients.h"
#include "broker/api/json/api_request.h"
#include "rapidjson/document.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  channel::ApiLimits limits;
  limits.max_targets = 8;
  absl::StatusOr<channel::ApiPublish> parsed =
      channel::ParseApiPublish(body, limits);
  if (parsed.ok()) {
    const channel::ApiPublish& publish = *parsed;
    if (publish.channels.empty() ||
        publish.channels.size() > 2 * limits.max_targets) {
      std::abort();
    }
    for (const auto& c : publish.channels) {
      if (c.size() > limits.max_id_bytes + 6) std::abort();
    }
  } else {
    const channel::ApiError error = channel::ApiErrorOf(parsed.status());
    if (error.code.empty() || error.status < 400 || error.status > 499) {
      std::abort();
    }
    const std::string json = channel::ApiErrorJson(error);
    rapidjson::Document doc;
    doc.Parse(json.data(), json.size());
    if (doc.HasParseError()) std::abort();
  }
  for (const char* action :
       {"send", "reply", "join", "leave", "bind", "close"}) {
    absl::StatusOr<channel::ActionRequest> request =
        channel::ParseApiClientAction(
            "POST", std::string("/api/clients/n-0.1/") + action, body, limits);
    if (!request.ok()) {
      if (channel::ApiErrorOf(request.status()).code.empty()) std::abort();
      continue;
    }
    if (request->action != action || request->client != "n-0.1" ||
        !channel::ActionJson(*request).ok()) {
      std::abort();
    }
  }
  return 0;
}
