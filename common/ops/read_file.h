#ifndef CHANNEL_COMMON_OPS_READ_FILE_H_
#define CHANNEL_COMMON_OPS_READ_FILE_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace channel {

// Reads a small file (a key, a secret) whole. NotFound / PermissionDenied
// with the path and errno text, or ResourceExhausted past `max_bytes`.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path,
                                          size_t max_bytes = 1 << 20);

}  // namespace channel

#endif  // CHANNEL_COMMON_OPS_READ_FILE_H_
