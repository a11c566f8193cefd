// api-bench: publishes over the broker's HTTP API (one keep-alive client,
// one request at a time) next to the same publishes over the binary
// protocol (one client library connection, one unacknowledged publish at a
// time), with the broker's CPU per publish from /proc.
//
//   api-bench --broker_port=P --api_port=A --api_key=K --broker_pid=PID
//             --publishes=20000
#include <httplib.h>

#include <chrono>
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "asio/io_context.hpp"
#include "client/broker_client.h"
#include "common/logging/logging.h"
#include "common/ops/flags_env.h"
#include "tools/bench/common/load_shape.h"

ABSL_FLAG(int32_t, broker_port, 2206, "Broker port (binary protocol).");
ABSL_FLAG(int32_t, api_port, 0, "Broker HTTP API port.");
ABSL_FLAG(std::string, api_key, "", "API key.");
ABSL_FLAG(int32_t, broker_pid, 0, "Broker PID, for its CPU seconds.");
ABSL_FLAG(int64_t, publishes, 20000, "Publishes per protocol.");

namespace {

using Clock = std::chrono::steady_clock;

void Report(const char* what, int64_t n, double seconds, double cpu) {
  std::printf(
      "%-6s %lld publishes in %.3f s = %.0f/s; broker cpu %.2f s = "
      "%.1f us per publish\n",
      what, static_cast<long long>(n), seconds, n / seconds, cpu,
      cpu * 1e6 / n);
}

}  // namespace

int main(int argc, char** argv) {
  channel::ParseFlagsWithEnvironment(argc, argv, "HTTP API vs binary publish");
  (void)channel::InitLogging("bench", "warn");
  const int pid = absl::GetFlag(FLAGS_broker_pid);
  const int64_t n = absl::GetFlag(FLAGS_publishes);
  const std::string body = R"({"group_id":"bench","message":"64 bytes of )"
                           R"(payload, about the size of a chat line....."})";

  httplib::Client http("127.0.0.1", absl::GetFlag(FLAGS_api_port));
  http.set_keep_alive(true);
  http.set_tcp_nodelay(true);
  const httplib::Headers headers = {
      {"Authorization", "Bearer " + absl::GetFlag(FLAGS_api_key)}};
  double cpu0 = channel::bench::ProcessCpuSeconds(pid);
  auto t0 = Clock::now();
  for (int64_t i = 0; i < n; ++i) {
    auto r = http.Post("/api/publish", headers, body, "application/json");
    if (!r || r->status != 200) {
      std::fprintf(stderr, "api-bench: request %lld failed\n",
                   static_cast<long long>(i));
      return 1;
    }
  }
  Report("http", n, std::chrono::duration<double>(Clock::now() - t0).count(),
         channel::bench::ProcessCpuSeconds(pid) - cpu0);

  asio::io_context io(1);
  channel::BrokerClientOptions options;
  options.port = static_cast<uint16_t>(absl::GetFlag(FLAGS_broker_port));
  channel::BrokerClient client(io, options);
  const std::string payload(64, 'x');
  int64_t done = 0;
  std::function<void()> next = [&] {
    const absl::Status sent =
        client.Publish({"group:bench"}, payload, nullptr,
                       [&](const absl::Status& s, uint64_t) {
                         if (!s.ok() || ++done == n) {
                           io.stop();
                           return;
                         }
                         next();
                       });
    if (!sent.ok()) io.stop();  // not connected, or the queue is full
  };
  client.set_state_handler([&](bool up, absl::string_view) {
    if (!up) return;
    cpu0 = channel::bench::ProcessCpuSeconds(pid);
    t0 = Clock::now();
    next();
  });
  client.Start();
  io.run();
  Report("binary", done,
         std::chrono::duration<double>(Clock::now() - t0).count(),
         channel::bench::ProcessCpuSeconds(pid) - cpu0);
  return done == n ? 0 : 1;
}
