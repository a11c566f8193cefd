#ifndef CHANNEL_BROKER_API_JSON_API_CLIENTS_H_
#define CHANNEL_BROKER_API_JSON_API_CLIENTS_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "broker/api/json/api_request.h"
#include "common/app/action_json.h"

namespace channel {

// The client routes of the HTTP API (docs/API.md "Connections"):
//   GET  /api/clients/{id}                  info
//   POST /api/clients/{id}/send   {"message":M}     (a string, or any JSON)
//   POST /api/clients/{id}/reply  {"request":N,"data":D} or
//                                 {"request":N,"error":CODE,"message":TEXT}
//   POST /api/clients/{id}/join   {"group_id":G}
//   POST /api/clients/{id}/leave  {"group_id":G}
//   POST /api/clients/{id}/bind   {"user":U}
//   POST /api/clients/{id}/close  {"code":C,"reason":R}  (both optional)
// True when `path` is one of them for `method` (the router's test).
bool IsApiClientRoute(absl::string_view method, absl::string_view path);

// The action a request asks for. A refusal is InvalidArgument carrying its
// stable code (ApiErrorOf): invalid_json, invalid_field, missing_field.
absl::StatusOr<ActionRequest> ParseApiClientAction(absl::string_view method,
                                                   absl::string_view path,
                                                   absl::string_view body,
                                                   const ApiLimits& limits);

}  // namespace channel

#endif  // CHANNEL_BROKER_API_JSON_API_CLIENTS_H_
