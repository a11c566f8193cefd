// ws-loadgen: a WebSocket load generator for ws-gateway. Many connections
// from one thread (websocketpp client, no locks), scenarios from the
// gateway issue, figures read from the servers' /proc:
//
//   fanout-burst   N members of one group, M messages as fast as the
//                  window allows; gateway CPU per delivered message
//   fanout-paced   N members, R messages/s for S seconds; latency
//                  p50/p99/max, loss and duplicates
//   many-groups    G single-member groups, random targets; whole-system CPU
//                  (gateways + broker) per routed message
//   churn          connect, join, close, repeated
//   idle           C idle connections; gateway RSS per connection
// (fanout-burst, fanout-paced and idle also against wss:// gateways)
//   scale-members  a share of a many-process scale run, and its paced
//   scale-send     stream (scale_scenario.h, tools/bench/scale-bench.sh)
//
// Every message carries a sequence number and its send time, so each member
// counts losses and duplicates and the generator measures latency.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/ops/flags_env.h"
#include "tools/bench/ws/fanout_scenarios.h"
#include "tools/bench/ws/group_scenarios.h"
#include "tools/bench/ws/scale_scenario.h"
#include "tools/bench/ws/scenario_params.h"
#include "tools/bench/ws/ws_load_client.h"

ABSL_FLAG(
    std::string, scenario, "fanout-burst",
    "fanout-burst, fanout-paced, many-groups, churn, idle, scale-members or "
    "scale-send.");
ABSL_FLAG(std::string, url_suffix, "",
          "Appended to every gateway URI, e.g. /?token=... for gateways "
          "that verify tokens.");
ABSL_FLAG(std::string, gateways, "ws://127.0.0.1:1234",
          "Comma-separated gateway URIs; members are spread over them.");
ABSL_FLAG(std::string, gateway_pids, "", "Comma-separated gateway PIDs.");
ABSL_FLAG(int32_t, broker_pid, 0, "Broker PID (0: not measured).");
ABSL_FLAG(int32_t, members, 1000, "fanout: members of the group.");
ABSL_FLAG(int32_t, messages, 2000, "fanout-burst / many-groups: messages.");
ABSL_FLAG(int32_t, payload, 64, "Message bytes.");
ABSL_FLAG(int32_t, rate, 100, "fanout-paced: messages per second.");
ABSL_FLAG(int32_t, seconds, 10, "fanout-paced / idle: duration.");
ABSL_FLAG(int32_t, groups, 2000, "many-groups: single-member groups.");
ABSL_FLAG(int32_t, senders, 4, "many-groups: sending connections.");
ABSL_FLAG(int32_t, window, 400, "Unacknowledged messages per sender.");
ABSL_FLAG(int32_t, cycles, 2000, "churn: connect/join/close cycles.");
ABSL_FLAG(int32_t, connections, 10000, "idle / scale: connections.");
ABSL_FLAG(int32_t, scale_groups, 1000, "scale: groups.");
ABSL_FLAG(int32_t, groups_per_connection, 3, "scale: groups each joins.");
ABSL_FLAG(int32_t, first_connection, 0,
          "scale-members: global index of this process's first connection.");
ABSL_FLAG(std::string, latency_out, "",
          "scale-members: file for \"<seq> <latency us>\" lines.");

namespace wsl = channel::bench::ws;

int main(int argc, char** argv) {
  channel::ParseFlagsWithEnvironment(argc, argv,
                                     "WebSocket load generator for ws-gateway");
  std::vector<std::string> uris =
      absl::StrSplit(absl::GetFlag(FLAGS_gateways), ',', absl::SkipEmpty());
  for (auto& uri : uris) uri += absl::GetFlag(FLAGS_url_suffix);
  const std::vector<int> gw_pids =
      wsl::ParsePids(absl::GetFlag(FLAGS_gateway_pids));
  const int broker_pid = absl::GetFlag(FLAGS_broker_pid);
  const std::string scenario = absl::GetFlag(FLAGS_scenario);
  wsl::ScenarioParams p;
  p.connections = absl::GetFlag(FLAGS_connections);
  p.cycles = absl::GetFlag(FLAGS_cycles);
  p.groups = absl::GetFlag(FLAGS_groups);
  p.members = absl::GetFlag(FLAGS_members);
  p.messages = absl::GetFlag(FLAGS_messages);
  p.payload = absl::GetFlag(FLAGS_payload);
  p.rate = absl::GetFlag(FLAGS_rate);
  p.seconds = absl::GetFlag(FLAGS_seconds);
  p.senders = absl::GetFlag(FLAGS_senders);
  p.window = absl::GetFlag(FLAGS_window);
  // wss:// gateways (any certificate accepted): the scenarios that measure
  // what TLS costs, fan-out and idle memory.
  const bool tls = !uris.empty() && absl::StartsWith(uris[0], "wss://");
  for (const std::string& uri : uris) {
    if (absl::StartsWith(uri, "wss://") != tls) {
      std::fprintf(stderr, "--gateways: all ws:// or all wss://\n");
      return 2;
    }
  }
  if (tls) {
    if (scenario == "fanout-burst") {
      return wsl::FanoutBurst<wsl::TlsLoadGen>(p, uris, gw_pids, broker_pid);
    }
    if (scenario == "fanout-paced") {
      return wsl::FanoutPaced<wsl::TlsLoadGen>(p, uris, gw_pids, broker_pid);
    }
    if (scenario == "idle")
      return wsl::Idle<wsl::TlsLoadGen>(p, uris, gw_pids, broker_pid);
    std::fprintf(stderr,
                 "wss:// gateways: fanout-burst, fanout-paced or idle only\n");
    return 2;
  }
  if (scenario == "fanout-burst") {
    return wsl::FanoutBurst<wsl::LoadGen>(p, uris, gw_pids, broker_pid);
  }
  if (scenario == "fanout-paced") {
    return wsl::FanoutPaced<wsl::LoadGen>(p, uris, gw_pids, broker_pid);
  }
  if (scenario == "many-groups")
    return wsl::ManyGroups(p, uris, gw_pids, broker_pid);
  if (scenario == "churn") return wsl::Churn(p, uris, gw_pids, broker_pid);
  if (scenario == "idle")
    return wsl::Idle<wsl::LoadGen>(p, uris, gw_pids, broker_pid);
  if (scenario == "scale-members" || scenario == "scale-send") {
    wsl::ScaleParams sp;
    sp.first = absl::GetFlag(FLAGS_first_connection);
    sp.connections = absl::GetFlag(FLAGS_connections);
    sp.groups = std::max(1, absl::GetFlag(FLAGS_scale_groups));
    sp.groups_per_connection = absl::GetFlag(FLAGS_groups_per_connection);
    sp.rate = std::max(1, absl::GetFlag(FLAGS_rate));
    sp.seconds = absl::GetFlag(FLAGS_seconds);
    sp.payload = absl::GetFlag(FLAGS_payload);
    sp.latency_out = absl::GetFlag(FLAGS_latency_out);
    return scenario == "scale-send" ? wsl::ScaleSend(sp, uris)
                                    : wsl::ScaleMembers(sp, uris);
  }
  std::fprintf(stderr, "unknown --scenario %s\n", scenario.c_str());
  return 2;
}
