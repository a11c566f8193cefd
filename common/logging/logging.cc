#include "common/logging/logging.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/logging.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace channel {
namespace {

// libprotobuf's own messages (e.g. a rejected field) go to our log at debug
// level: they are caused by peers' input and must not flood it.
void ProtobufLogHandler(google::protobuf::LogLevel level, const char* filename,
                        int line, const std::string& message) {
  if (level >= google::protobuf::LOGLEVEL_FATAL) {
    spdlog::critical("libprotobuf {}:{}: {}", filename, line, message);
  } else {
    spdlog::debug("libprotobuf {}:{}: {}", filename, line, message);
  }
}

}  // namespace

absl::Status InitLogging(absl::string_view program, absl::string_view level) {
  const auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown log level '", level,
        "' (want trace, debug, info, warn, error, critical or off)"));
  }
  auto logger = spdlog::stderr_logger_mt(std::string(program));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %-5l [%n] %v",
                      spdlog::pattern_time_type::utc);
  logger->set_level(parsed);
  // Every line is flushed as it is written (stderr is unbuffered, and tests
  // and operators read the log while the process runs). Logging on the data
  // path is at debug level, off by default.
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
  google::protobuf::SetLogHandler(&ProtobufLogHandler);
  return absl::OkStatus();
}

}  // namespace channel
