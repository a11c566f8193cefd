#ifndef CHANNEL_TESTS_GATEWAY_GATEWAY_FIXTURE_H_
#define CHANNEL_TESTS_GATEWAY_GATEWAY_FIXTURE_H_

#include <memory>
#include <string>
#include <vector>

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
};

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_GATEWAY_GATEWAY_FIXTURE_H_
