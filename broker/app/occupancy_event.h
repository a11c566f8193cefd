#ifndef CHANNEL_BROKER_APP_OCCUPANCY_EVENT_H_
#define CHANNEL_BROKER_APP_OCCUPANCY_EVENT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace channel {

// {"type":"occupied"|"vacated","group":G,"time_ms":T}: a group's first
// connection anywhere, or its last gone (docs/PROTOCOL.md "Application
// events"). The broker publishes it on app:events with key "group:G", so a
// queue group keeps one group's occupancy on one backend, in order.
std::string OccupancyEventJson(absl::string_view group, bool occupied,
                               int64_t time_ms);

}  // namespace channel

#endif  // CHANNEL_BROKER_APP_OCCUPANCY_EVENT_H_
