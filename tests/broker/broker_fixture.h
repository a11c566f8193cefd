#ifndef CHANNEL_TESTS_BROKER_BROKER_FIXTURE_H_
#define CHANNEL_TESTS_BROKER_BROKER_FIXTURE_H_

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process/daemon_process.h"
#include "tests/support/sockets/http_get.h"

namespace channel::testing {

// A channel-broker process on loopback, any free ports.
struct BrokerProcess {
  std::unique_ptr<DaemonProcess> process;
  int port = 0;
  int admin_port = 0;

  static BrokerProcess Start(
      std::vector<std::string> extra_args = {}, int port = 0,
      const std::map<std::string, std::string>& env = {}) {
    std::vector<std::string> args = {
        "--listen=127.0.0.1", "--port=" + std::to_string(port),
        "--admin_listen=127.0.0.1", "--admin_port=0", "--log_level=debug",
        // Tests that restart a broker under its clients and publish at once
        // would meet the restart grace; the tests of the grace pass it
        // explicitly (a later flag wins).
        "--resubscribe_grace_ms=0"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    BrokerProcess broker;
    broker.process = DaemonProcess::Start(CHANNEL_BROKER_BIN, args, env);
    broker.port = broker.process->WaitForPort("] listening on");
    broker.admin_port = broker.process->WaitForPort("admin listening on");
    return broker;
  }

  std::string Metrics() const { return HttpGet(admin_port, "/metrics").body; }
  double Metric(const std::string& series) const {
    return MetricValue(Metrics(), series);
  }
  // WaitMetricValue on this broker's metrics.
  double WaitMetric(
      const std::string& series, double want,
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    return WaitMetricValue(admin_port, series, want, timeout);
  }
};

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_BROKER_BROKER_FIXTURE_H_
