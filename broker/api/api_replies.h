#ifndef CHANNEL_BROKER_API_API_REPLIES_H_
#define CHANNEL_BROKER_API_API_REPLIES_H_

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "broker/api/json/api_request.h"
#include "broker/presence/presence_table.h"
#include "net/http_message.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

// The answers the API's routes share (api_server*.cc), and nothing else.
namespace channel::api_replies {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

inline HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// {"ok":false,"error":{...}} with `status` (ApiErrorJson).
inline HttpResponse Error(int status, absl::string_view code,
                          absl::string_view message,
                          bool not_published = false) {
  ApiError e;
  e.status = status;
  e.code = std::string(code);
  e.message = std::string(message);
  e.not_published = not_published;
  return Json(status, ApiErrorJson(e));
}

inline HttpResponse BadGroupId() {
  return Error(400, "invalid_field",
               "group_id: 1 to 128 bytes, in the query string");
}

// The broker loop did not take a read up within ApiOptions::broker_wait.
inline HttpResponse NotAnswered() {
  return Error(503, "unavailable", "the broker did not answer in time");
}

inline void WriteCounts(JsonWriter& w, const PresenceTable::Counts& c) {
  w.Key("connections");
  w.Uint64(c.connections);
  w.Key("users");
  w.Uint64(c.users);
}

// Query parameter `name` (ApiQueryParam), or "" when absent.
inline std::string QueryParam(const HttpRequest& request,
                              absl::string_view name) {
  return ApiQueryParam(request.Query(), name).value_or("");
}

// The query's group_id: 1 to `max_bytes` bytes, or nullopt (BadGroupId).
inline std::optional<std::string> GroupIdParam(const HttpRequest& request,
                                               size_t max_bytes) {
  std::string group = QueryParam(request, "group_id");
  if (group.empty() || group.size() > max_bytes) return std::nullopt;
  return group;
}

// Opens a group's reply: {"ok":true,"group_id":G (the caller adds its
// fields and ends the object).
inline void StartGroupReply(JsonWriter& w, const std::string& group) {
  w.StartObject();
  w.Key("ok");
  w.Bool(true);
  w.Key("group_id");
  w.String(group.data(), static_cast<rapidjson::SizeType>(group.size()));
}

}  // namespace channel::api_replies

#endif  // CHANNEL_BROKER_API_API_REPLIES_H_
