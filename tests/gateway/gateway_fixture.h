#ifndef CHANNEL_TESTS_GATEWAY_GATEWAY_FIXTURE_H_
#define CHANNEL_TESTS_GATEWAY_GATEWAY_FIXTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/broker/broker_fixture.h"
#include "tests/support/process/daemon_process.h"
#include "tests/support/sockets/http_get.h"

namespace channel::testing {

// A ws-gateway process on loopback, any free ports, connected to a broker.
struct GatewayProcess {
  std::unique_ptr<DaemonProcess> process;
  int port = 0;
  int admin_port = 0;

  static GatewayProcess Start(int broker_port,
                              std::vector<std::string> extra_args = {},
                              bool wait_for_link = true) {
    std::vector<std::string> args = {
        "--listen=127.0.0.1", "--port=0", "--admin_listen=127.0.0.1",
        "--admin_port=0",
        // One worker: one broker connection per gateway, so tests can count
        // subscriptions exactly. Tests of the multi-worker paths pass
        // --threads=2 (a later flag wins).
        "--threads=1", "--log_level=debug", "--broker_backoff_max_ms=200",
        "--broker=127.0.0.1:" + std::to_string(broker_port)};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    GatewayProcess gateway;
    gateway.process = DaemonProcess::Start(CHANNEL_GATEWAY_BIN, args);
    gateway.port = gateway.process->WaitForPort("] listening on");
    gateway.admin_port = gateway.process->WaitForPort("admin listening on");
    if (wait_for_link) {
      gateway.process->WaitForLine("broker link up", std::chrono::seconds(10));
    }
    return gateway;
  }

  std::string uri() const { return "ws://127.0.0.1:" + std::to_string(port); }
  // For a gateway started with --tls_cert / --tls_key.
  std::string wss_uri() const {
    return "wss://127.0.0.1:" + std::to_string(port);
  }
  std::string Metrics() const { return HttpGet(admin_port, "/metrics").body; }
  double Metric(const std::string& series) const {
    return MetricValue(Metrics(), series);
  }
  // WaitMetricValue on this gateway's metrics.
  double WaitMetric(
      const std::string& series, double want,
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    return WaitMetricValue(admin_port, series, want, timeout);
  }
};

// The HMAC secret of the tests' gateways started with tokens
// (--token_hmac_secret).
inline const std::string kSecret = "0123456789abcdef0123456789abcdef";

// {"id":ID,"ok":true}: the reply to a command that succeeded.
inline std::string Ok(int id) {
  return absl::StrCat(R"({"id":)", id, R"(,"ok":true})");
}

// `part` occurs in `text`.
inline bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Gateway flags that take its per-connection rate limits out of a test.
inline const std::vector<std::string> kNoRateLimit = {
    "--rate_limit_per_sec=100000", "--rate_limit_burst=100000",
    "--rate_limit_bytes_per_sec=0"};

// {"cmd":"add_group","group_id":G,"id":ID}.
inline std::string Join(const std::string& group, int id) {
  return absl::StrCat(R"({"cmd":"add_group","group_id":")", group, R"(","id":)",
                      id, "}");
}

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_GATEWAY_GATEWAY_FIXTURE_H_
