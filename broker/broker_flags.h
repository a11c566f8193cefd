#ifndef CHANNEL_BROKER_BROKER_FLAGS_H_
#define CHANNEL_BROKER_BROKER_FLAGS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "broker/api/api_server.h"
#include "broker/broker_options.h"

namespace channel {

// channel-broker's command line: every flag (also CHANNEL_<FLAG> in the
// environment; `channel-broker --help` lists them). ParseBrokerFlags once,
// first thing in main; the rest read what it parsed.
void ParseBrokerFlags(int argc, char** argv);

// --log_level.
std::string BrokerLogLevel();

// The broker's options, or InvalidArgument naming the flag at fault (a
// --history or --presence rule, --webhook_url, limits that contradict).
absl::StatusOr<BrokerOptions> BrokerOptionsFromFlags();

// The HTTP API's options; nullopt when --api_port is negative (no API).
std::optional<ApiOptions> ApiOptionsFromFlags();

// --admin_listen and --admin_port (-1: no admin port).
struct AdminAddress {
  std::string host;
  int32_t port = -1;
};
AdminAddress AdminAddressFromFlags();

}  // namespace channel

#endif  // CHANNEL_BROKER_BROKER_FLAGS_H_
