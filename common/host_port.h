#ifndef CHANNEL_COMMON_HOST_PORT_H_
#define CHANNEL_COMMON_HOST_PORT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace channel {

// "a:2206,b:2206" (or "[::1]:2206") -> [(a, 2206), (b, 2206)]. A name may
// resolve to several addresses (a Kubernetes headless service); the client
// library tries them all. InvalidArgument names the bad item.
absl::StatusOr<std::vector<std::pair<std::string, uint16_t>>> ParseHostPorts(
    absl::string_view text);

}  // namespace channel

#endif  // CHANNEL_COMMON_HOST_PORT_H_
