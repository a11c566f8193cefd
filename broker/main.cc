// channel-broker: wiring only; its flags are in broker_flags.cc. See
// README.md.
#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "asio/io_context.hpp"
#include "asio/ip/address.hpp"
#include "broker/api/api_server.h"
#include "broker/broker_flags.h"
#include "broker/broker_server.h"
#include "common/admin/serve_until_signal.h"
#include "common/logging/logging.h"
#include "common/version.h"

namespace {

bool IsLoopback(const std::string& host) {
  std::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

}  // namespace

int main(int argc, char** argv) {
  channel::ParseBrokerFlags(argc, argv);
  if (absl::Status s =
          channel::InitLogging("broker", channel::BrokerLogLevel());
      !s.ok()) {
    std::fprintf(stderr, "channel-broker: %s\n",
                 std::string(s.message()).c_str());
    return 1;
  }
  absl::StatusOr<channel::BrokerOptions> parsed =
      channel::BrokerOptionsFromFlags();
  if (!parsed.ok()) {
    spdlog::critical("{}", parsed.status().message());
    return 1;
  }
  const channel::BrokerOptions& options = *parsed;

  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context io(1);
  channel::BrokerServer broker(io, options);
  spdlog::info("channel-broker {} starting", channel::kVersion);
  if (absl::Status s = broker.Listen(); !s.ok()) {
    spdlog::critical("{}", s.message());
    return 1;
  }
  spdlog::info("listening on {}:{} (broker id {})", options.listen_host,
               broker.port(), broker.broker_id());
  for (const channel::HistoryRule& rule : options.history.rules()) {
    spdlog::info("history: groups {}", channel::HistoryRules::Describe(rule));
  }
  for (const channel::PresenceRule& rule : options.presence.rules()) {
    spdlog::info("presence: groups {}", channel::PresenceRules::Describe(rule));
  }
  if (options.auth_token.empty() && !IsLoopback(options.listen_host)) {
    spdlog::warn(
        "no --auth_token set and listening on {}: anyone who can reach port "
        "{} can subscribe and publish{}",
        options.listen_host, broker.port(),
        options.php_enabled && options.php_allow_from.empty()
            ? ", with protobuf or the PHP codec (Workerman Channel clients)"
            : "");
  }
  if (options.php_enabled && !options.auth_token.empty() &&
      options.php_allow_from.empty()) {
    spdlog::info(
        "PHP (Workerman Channel) clients are refused: their protocol has no "
        "token; allow their networks with --php_allow_from");
  }

  std::unique_ptr<channel::ApiServer> api;
  if (std::optional<channel::ApiOptions> api_options =
          channel::ApiOptionsFromFlags()) {
    api = std::make_unique<channel::ApiServer>(io, &broker, *api_options);
    if (absl::Status s = api->Start(); !s.ok()) {
      spdlog::critical("{}", s.message());
      return 1;
    }
    broker.set_extra_metrics([api = api.get()](channel::PrometheusText* m) {
      api->AppendMetrics(m);
    });
    spdlog::info("api listening on {}:{}", api_options->listen_host,
                 api->port());
  }

  const channel::AdminAddress admin = channel::AdminAddressFromFlags();
  const int rc = channel::ServeUntilSignal(
      io,
      {[&broker] { return broker.NotReadyReason(); },
       [&broker] { return broker.RenderMetrics(); }},
      admin.host, admin.port, [&broker](std::function<void()> done) {
        broker.Shutdown(std::move(done));
      });
  // The API's handlers post to `io`: stop them before it goes away.
  if (api) api->Stop();
  if (rc != 0) return rc;
  spdlog::info("channel-broker stopped");
  return 0;
}
