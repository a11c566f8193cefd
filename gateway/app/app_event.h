#ifndef CHANNEL_GATEWAY_APP_APP_EVENT_H_
#define CHANNEL_GATEWAY_APP_APP_EVENT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace channel {

// The application events a gateway publishes (docs/PROTOCOL.md
// "Application events"), as JSON objects; the webhook body's "events"
// holds the same objects. Every one has "type", "client" (the connection's
// id), "time_ms" (Unix milliseconds) and "user" when the connection has one.

// What a connect event tells of the upgrade request.
struct ConnectInfo {
  std::string address;  // the peer, "ip:port"
  std::string path;     // the request target's path
  std::string query;    // its query, without '?'; may hold a token: the
                        // operator chooses (--event_query)
  // The headers and cookies an operator allows by name (--event_headers,
  // --event_cookies), present ones only.
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::pair<std::string, std::string>> cookies;
};

struct EventBase {
  absl::string_view client;
  absl::string_view user;
  int64_t time_ms = 0;
};

std::string ConnectEvent(const EventBase& base, const ConnectInfo& info);
// "message": the client's command object, verbatim (valid JSON), with the
// request number the backend's reply names (0: the command had no id, no
// reply is expected).
std::string MessageEvent(const EventBase& base, uint64_t request,
                         absl::string_view command_json);
// "join" / "leave" of a group.
std::string GroupEvent(const EventBase& base, bool joined,
                       absl::string_view group);
// "join_request": a join of a group the backend decides (--ask_backend).
std::string JoinRequestEvent(const EventBase& base, uint64_t request,
                             absl::string_view group);
std::string CloseEvent(const EventBase& base, uint16_t code,
                       absl::string_view reason,
                       const std::vector<std::string>& groups);

// The result of an action with reply_to: {"ref":R,"client":ID,"ok":B,
// ["error":CODE,"message":TEXT] [,"online":B,"user":U,"groups":[...]]}.
struct ActionResult {
  absl::string_view ref_json;  // empty: no "ref"
  absl::string_view client;
  bool ok = true;
  absl::string_view error;
  absl::string_view message;
  bool info = false;  // an info action: online, user, groups follow
  bool online = false;
  absl::string_view user;
  std::vector<std::string> groups;
};
std::string ActionResultJson(const ActionResult& result);

// Cookie `name`'s value in a Cookie header, if present.
bool FindCookie(absl::string_view header, absl::string_view name,
                std::string* value);

}  // namespace channel

#endif  // CHANNEL_GATEWAY_APP_APP_EVENT_H_
