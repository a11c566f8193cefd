#ifndef CHANNEL_COMMON_LOGGING_LOGGING_H_
#define CHANNEL_COMMON_LOGGING_LOGGING_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "spdlog/fmt/fmt.h"
#include "spdlog/spdlog.h"

namespace channel {

// Configures spdlog's default logger: stderr, one line per event,
// "2026-11-25T20:00:00.123Z info  [broker] message". `level` is one of
// trace, debug, info, warn, error, critical, off.
absl::Status InitLogging(absl::string_view program, absl::string_view level);

}  // namespace channel

// Debian's Abseil has its own string_view type; let log lines format it.
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename FormatContext>
  auto format(absl::string_view s, FormatContext& ctx) const {
    return fmt::formatter<fmt::string_view>::format(
        fmt::string_view(s.data(), s.size()), ctx);
  }
};

#endif  // CHANNEL_COMMON_LOGGING_LOGGING_H_
