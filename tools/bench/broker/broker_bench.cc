// broker-bench: the same pub/sub load against channel-broker and
// redis-server, reporting deliveries per second and the server's CPU per
// delivery (read from /proc/PID/stat). tools/bench/broker-bench.sh starts
// both servers and runs the standard shapes.
//
//   broker-bench --target=channel --port=P --server_pid=PID
//                --publishers=1 --fanout=1000 --payload=64 --publishes=2000
#include <cstdio>

#include "absl/flags/flag.h"
#include "common/logging/logging.h"
#include "common/ops/flags_env.h"
#include "tools/bench/broker/channel_load.h"
#include "tools/bench/broker/php_load.h"
#include "tools/bench/broker/redis_load.h"
#include "tools/bench/common/load_shape.h"

ABSL_FLAG(std::string, target, "channel",
          "channel (protobuf codec), php (the broker's Workerman Channel "
          "codec) or redis.");
ABSL_FLAG(std::string, host, "127.0.0.1", "Server address.");
ABSL_FLAG(int32_t, port, 2206, "Server port.");
ABSL_FLAG(int32_t, server_pid, 0,
          "PID of the server, for its CPU seconds (0: not measured).");
ABSL_FLAG(int32_t, publishers, 1, "Publisher connections.");
ABSL_FLAG(int32_t, subscribers, 100,
          "Subscriber connections when --fanout=1 (each on its own channel).");
ABSL_FLAG(int32_t, fanout, 1, "Subscribers per channel (>1: one channel).");
ABSL_FLAG(uint64_t, payload, 64, "Payload bytes.");
ABSL_FLAG(int64_t, publishes, 100000, "Publishes in total.");
ABSL_FLAG(int32_t, window, 64, "Unacknowledged publishes per publisher.");
ABSL_FLAG(bool, header, false, "Print the table header first.");

int main(int argc, char** argv) {
  channel::ParseFlagsWithEnvironment(argc, argv,
                                     "pub/sub benchmark: channel vs redis");
  (void)channel::InitLogging("bench", "warn");
  channel::bench::LoadShape shape;
  shape.publishers = absl::GetFlag(FLAGS_publishers);
  shape.subscribers = absl::GetFlag(FLAGS_subscribers);
  shape.fanout = absl::GetFlag(FLAGS_fanout);
  shape.payload_bytes = absl::GetFlag(FLAGS_payload);
  shape.publishes = absl::GetFlag(FLAGS_publishes);
  shape.window = absl::GetFlag(FLAGS_window);
  const std::string target = absl::GetFlag(FLAGS_target);
  const int pid = absl::GetFlag(FLAGS_server_pid);

  if (absl::GetFlag(FLAGS_header)) {
    std::printf("%-8s %5s %7s %6s %9s %8s %12s %9s %14s %13s\n", "target",
                "pubs", "fanout", "bytes", "deliver", "wall_s", "deliveries/s",
                "cpu_s", "cpu_s/M_deliv", "deliv/cpu_s");
  }
  const double cpu0 = pid ? channel::bench::ProcessCpuSeconds(pid) : 0;
  channel::bench::LoadResult r;
  if (target == "channel") {
    r = channel::bench::RunChannelLoad(absl::GetFlag(FLAGS_host),
                                       absl::GetFlag(FLAGS_port), shape);
  } else if (target == "php") {
    r = channel::bench::RunPhpLoad(absl::GetFlag(FLAGS_host),
                                   absl::GetFlag(FLAGS_port), shape);
  } else if (target == "redis") {
    r = channel::bench::RunRedisLoad(absl::GetFlag(FLAGS_host),
                                     absl::GetFlag(FLAGS_port), shape);
  } else {
    std::fprintf(stderr, "--target must be channel, php or redis\n");
    return 2;
  }
  if (!r.ok) {
    std::fprintf(stderr, "broker-bench %s: %s (after %lld deliveries)\n",
                 target.c_str(), r.error.c_str(),
                 static_cast<long long>(r.deliveries));
    return 1;
  }
  const double cpu = pid ? channel::bench::ProcessCpuSeconds(pid) - cpu0 : 0;
  std::printf(
      "%-8s %5d %7d %6zu %9lld %8.3f %12.0f %9.2f %14.3f %13.0f\n",
      target.c_str(), shape.publishers, shape.fanout > 1 ? shape.fanout : 1,
      shape.payload_bytes, static_cast<long long>(r.deliveries), r.seconds,
      r.deliveries / r.seconds, cpu, cpu > 0 ? cpu / (r.deliveries / 1e6) : 0.0,
      cpu > 0 ? r.deliveries / cpu : 0.0);
  return 0;
}
