#ifndef CHANNEL_BROKER_API_JSON_API_HISTORY_H_
#define CHANNEL_BROKER_API_JSON_API_HISTORY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "broker/api/json/api_request.h"
#include "proto/channel.pb.h"

namespace channel {

// GET /api/history?group_id=G[&limit=N][&before=OFFSET] (docs/API.md): the
// query string to a HistoryQuery of channel "group:G". limit defaults to
// 50 (the broker caps it at --history_recover_max). InvalidArgument with
// the reason for the client.
absl::StatusOr<v1::HistoryQuery> ParseApiHistory(absl::string_view query,
                                                 const ApiLimits& limits);

// {"ok":true,"group_id":G,"offset":N,"epoch":E,"messages":[{"offset":O,
// "message":M[,"from":U]},...][,"truncated":true]}
std::string ApiHistoryJson(absl::string_view group,
                           const v1::HistoryReply& reply);

}  // namespace channel

#endif  // CHANNEL_BROKER_API_JSON_API_HISTORY_H_
