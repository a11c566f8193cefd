#ifndef CHANNEL_BROKER_API_API_BACKEND_H_
#define CHANNEL_BROKER_API_API_BACKEND_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "broker/routing/presence_table.h"
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
  // grace). *deliveries: the events queued to subscribers.
  virtual absl::Status PublishFromApi(const std::vector<std::string>& channels,
                                      const std::string& message,
                                      uint64_t* deliveries) = 0;
  virtual const PresenceTable& presence() const = 0;
  // Reads history (HistoryQuery semantics; FailedPrecondition: the channel
  // has no history).
  virtual absl::Status ReadHistoryFromApi(const v1::HistoryQuery& query,
                                          v1::HistoryReply* reply) = 0;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_API_API_BACKEND_H_
