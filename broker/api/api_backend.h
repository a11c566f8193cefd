#ifndef CHANNEL_BROKER_API_API_BACKEND_H_
#define CHANNEL_BROKER_API_API_BACKEND_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "broker/presence/presence_table.h"
#include "common/app/action_json.h"
#include "common/presence/presence_rules.h"
#include "proto/channel.pb.h"

namespace channel {

// What the HTTP API (ApiServer) asks of the broker. Every call runs on the
// broker's thread (ApiServer hops there with BrokerHop).
class ApiBackend {
 public:
  virtual ~ApiBackend() = default;
  // Empty when ready; else why not (the API answers 503).
  virtual std::string NotReadyReason() const = 0;
  // Publishes `message` on `channels` as a local publisher would: validated
  // and admitted whole by the Router (and refused during a restart's
  // grace). `done` runs once on the broker thread, within the call or
  // later (a cluster's history channels are stored first), with the
  // outcome and the events queued to subscribers.
  using PublishDone =
      std::function<void(const absl::Status& status, uint64_t deliveries)>;
  virtual void PublishFromApi(const std::vector<std::string>& channels,
                              const std::string& message, PublishDone done) = 0;
  virtual const PresenceTable& presence() const = 0;
  // Which groups keep member lists (--presence).
  virtual const PresenceRules& presence_rules() const = 0;
  // Acts on a gateway's connection (ClientActions): `done` runs once on the
  // broker thread with the gateway's result JSON or why there is none.
  using ClientActionDone =
      std::function<void(absl::StatusOr<std::string> result)>;
  virtual void ActOnClient(ActionRequest request, ClientActionDone done) = 0;
  // Reads history (HistoryQuery semantics; FailedPrecondition: the channel
  // has no history).
  virtual absl::Status ReadHistoryFromApi(const v1::HistoryQuery& query,
                                          v1::HistoryReply* reply) = 0;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_API_API_BACKEND_H_
