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
#include "tools/bench/scale_scenario.h"
#include "tools/bench/ws_load_client.h"

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

namespace {

using channel::bench::ws::Clock;
using channel::bench::ws::Latencies;
using channel::bench::ws::LoadGen;
using channel::bench::ws::MessageJson;
using channel::bench::ws::NowNs;
using channel::bench::ws::OpenMembers;
using channel::bench::ws::ParsePids;
using channel::bench::ws::Sample;
using channel::bench::ws::ServerSample;

template <typename LoadGenKind>
int FanoutBurst(const std::vector<std::string>& uris,
                const std::vector<int>& gw_pids, int broker_pid) {
  const int n = absl::GetFlag(FLAGS_members);
  const int m = absl::GetFlag(FLAGS_messages);
  const int payload = absl::GetFlag(FLAGS_payload);
  const int window = absl::GetFlag(FLAGS_window);
  LoadGenKind g;
  std::vector<int> members;
  int64_t delivered = 0;
  if (!OpenMembers(
          g, uris, n, [](int) { return std::string("bench"); }, &members)) {
    return 1;
  }
  for (int i : members) {
    auto* c = g.conns_[i].get();
    c->seen.assign(m, 0);
    c->on_text = [c, &delivered](const std::string& text) {
      const uint32_t seq =
          static_cast<uint32_t>(std::strtoul(text.c_str(), nullptr, 10));
      if (seq < c->seen.size()) ++c->seen[seq];
      ++c->received;
      ++delivered;
    };
  }
  const int sender = g.Open(uris[0]);
  g.RunUntil([&] { return g.conns_[sender]->open; }, std::chrono::seconds(10));
  const ServerSample before = Sample(gw_pids, broker_pid);
  const int64_t rss_before = before.gateway_rss_kib;
  const auto t0 = Clock::now();
  int sent = 0;
  while (sent < m) {
    // Keep at most `window` messages unacknowledged (acks every 100th).
    const int acked = g.conns_[sender]->acks * 100;
    while (sent < m && sent - acked < window) {
      const bool with_id = sent % 100 == 99;
      g.Send(sender, MessageJson("bench", sent, payload, with_id ? sent : -1));
      ++sent;
    }
    g.io().run_one_for(std::chrono::milliseconds(10));
  }
  const int64_t expected = int64_t{m} * n;
  const bool done = g.RunUntil([&] { return delivered >= expected; },
                               std::chrono::seconds(120));
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const ServerSample after = Sample(gw_pids, broker_pid);
  int64_t lost = 0, dup = 0;
  for (int i : members) {
    for (uint8_t s : g.conns_[i]->seen) {
      if (s == 0) ++lost;
      if (s > 1) dup += s - 1;
    }
  }
  const double gw_cpu = after.gateway_cpu - before.gateway_cpu;
  std::printf(
      "fanout-burst members %d messages %d payload %d: delivered %" PRId64
      " in %.3f s = %.0f deliveries/s; lost %" PRId64 " dup %" PRId64 "\n",
      n, m, payload, delivered, secs, delivered / secs, lost, dup);
  std::printf(
      "gateway cpu %.2f s = %.3f us per delivered message; broker cpu "
      "%.2f s; gateway rss %" PRId64 " -> %" PRId64 " KiB\n",
      gw_cpu, gw_cpu * 1e6 / std::max<int64_t>(delivered, 1),
      after.broker_cpu - before.broker_cpu, rss_before, after.gateway_rss_kib);
  return done && lost == 0 && dup == 0 ? 0 : 1;
}

template <typename LoadGenKind>
int FanoutPaced(const std::vector<std::string>& uris,
                const std::vector<int>& gw_pids, int broker_pid) {
  const int n = absl::GetFlag(FLAGS_members);
  const int rate = absl::GetFlag(FLAGS_rate);
  const int secs = absl::GetFlag(FLAGS_seconds);
  const int payload = absl::GetFlag(FLAGS_payload);
  const int m = rate * secs;
  LoadGenKind g;
  std::vector<int> members;
  Latencies lat;
  lat.ns.reserve(static_cast<size_t>(m) * n);
  int64_t delivered = 0;
  if (!OpenMembers(
          g, uris, n, [](int) { return std::string("paced"); }, &members)) {
    return 1;
  }
  for (int i : members) {
    auto* c = g.conns_[i].get();
    c->seen.assign(m, 0);
    c->on_text = [c, &delivered, &lat](const std::string& text) {
      const int64_t now = NowNs();
      char* end = nullptr;
      const uint32_t seq =
          static_cast<uint32_t>(std::strtoul(text.c_str(), &end, 10));
      const int64_t sent_ns = std::strtoll(end, nullptr, 10);
      if (seq < c->seen.size()) ++c->seen[seq];
      lat.ns.push_back(now - sent_ns);
      ++delivered;
    };
  }
  const int sender = g.Open(uris[0]);
  g.RunUntil([&] { return g.conns_[sender]->open; }, std::chrono::seconds(10));
  const ServerSample before = Sample(gw_pids, broker_pid);
  const auto t0 = Clock::now();
  const auto interval = std::chrono::nanoseconds(1000000000LL / rate);
  for (int sent = 0; sent < m; ++sent) {
    const auto due = t0 + sent * interval;
    while (Clock::now() < due) {
      g.io().run_one_until(due);
    }
    g.Send(sender, MessageJson("paced", sent, payload, -1));
  }
  const int64_t expected = int64_t{m} * n;
  const bool done = g.RunUntil([&] { return delivered >= expected; },
                               std::chrono::seconds(30));
  const double elapsed =
      std::chrono::duration<double>(Clock::now() - t0).count();
  const ServerSample after = Sample(gw_pids, broker_pid);
  int64_t lost = 0, dup = 0;
  for (int i : members) {
    for (uint8_t s : g.conns_[i]->seen) {
      if (s == 0) ++lost;
      if (s > 1) dup += s - 1;
    }
  }
  const double gw_cpu = after.gateway_cpu - before.gateway_cpu;
  std::printf("fanout-paced members %d rate %d/s for %d s: delivered %" PRId64
              " (%.0f/s); lost %" PRId64 " dup %" PRId64 "\n",
              n, rate, secs, delivered, delivered / elapsed, lost, dup);
  lat.Print();
  std::printf(
      "gateway cpu %.2f s = %.3f us per delivered message; broker cpu %.2f s\n",
      gw_cpu, gw_cpu * 1e6 / std::max<int64_t>(delivered, 1),
      after.broker_cpu - before.broker_cpu);
  return done && lost == 0 && dup == 0 ? 0 : 1;
}

int ManyGroups(const std::vector<std::string>& uris,
               const std::vector<int>& gw_pids, int broker_pid) {
  const int groups = absl::GetFlag(FLAGS_groups);
  const int m = absl::GetFlag(FLAGS_messages);
  const int payload = absl::GetFlag(FLAGS_payload);
  const int nsenders = absl::GetFlag(FLAGS_senders);
  const int window = absl::GetFlag(FLAGS_window);
  LoadGen g;
  std::vector<int> members;
  int64_t delivered = 0;
  Latencies lat;
  if (!OpenMembers(
          g, uris, groups, [](int i) { return absl::StrCat("g", i); },
          &members)) {
    return 1;
  }
  std::vector<int> target(m);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> pick(0, groups - 1);
  for (int& t : target) t = pick(rng);
  for (int i : members) {
    auto* c = g.conns_[i].get();
    c->seen.assign(m, 0);
    c->on_text = [c, &delivered, &lat](const std::string& text) {
      const int64_t now = NowNs();
      char* end = nullptr;
      const uint32_t seq =
          static_cast<uint32_t>(std::strtoul(text.c_str(), &end, 10));
      if (seq < c->seen.size()) ++c->seen[seq];
      lat.ns.push_back(now - std::strtoll(end, nullptr, 10));
      ++delivered;
    };
  }
  std::vector<int> senders;
  for (int s = 0; s < nsenders; ++s)
    senders.push_back(g.Open(uris[s % uris.size()]));
  g.RunUntil(
      [&] {
        for (int s : senders) {
          if (!g.conns_[s]->open) return false;
        }
        return true;
      },
      std::chrono::seconds(10));
  const ServerSample before = Sample(gw_pids, broker_pid);
  const auto t0 = Clock::now();
  std::vector<int> sent_by(nsenders, 0);
  int sent = 0;
  while (sent < m) {
    for (int s = 0; s < nsenders && sent < m; ++s) {
      const int acked = g.conns_[senders[s]]->acks * 100;
      while (sent < m && sent_by[s] - acked < window / nsenders) {
        const bool with_id = sent_by[s] % 100 == 99;
        g.Send(senders[s], MessageJson(absl::StrCat("g", target[sent]), sent,
                                       payload, with_id ? sent : -1));
        ++sent;
        ++sent_by[s];
      }
    }
    g.io().run_one_for(std::chrono::milliseconds(10));
  }
  const bool done =
      g.RunUntil([&] { return delivered >= m; }, std::chrono::seconds(120));
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const ServerSample after = Sample(gw_pids, broker_pid);
  int64_t lost = 0;
  for (int k = 0; k < m; ++k) {
    if (g.conns_[members[target[k]]]->seen[k] == 0) ++lost;
  }
  // Every delivery beyond one per message is a duplicate or went to a
  // connection that was not the target.
  const int64_t dup = delivered - (m - lost);
  const double gw_cpu = after.gateway_cpu - before.gateway_cpu;
  const double br_cpu = after.broker_cpu - before.broker_cpu;
  std::printf("many-groups groups %d messages %d: delivered %" PRId64
              " in %.3f s = %.0f/s; lost %" PRId64 " misrouted/dup %" PRId64
              "\n",
              groups, m, delivered, secs, delivered / secs, lost, dup);
  std::printf(
      "system cpu %.2f s (gateways %.2f + broker %.2f) = %.1f us per "
      "routed message\n",
      gw_cpu + br_cpu, gw_cpu, br_cpu,
      (gw_cpu + br_cpu) * 1e6 / std::max<int64_t>(delivered, 1));
  lat.Print();
  return done && lost == 0 && dup == 0 ? 0 : 1;
}

int Churn(const std::vector<std::string>& uris, const std::vector<int>& gw_pids,
          int broker_pid) {
  const int cycles = absl::GetFlag(FLAGS_cycles);
  constexpr int kParallel = 50;
  LoadGen g;
  const ServerSample before = Sample(gw_pids, broker_pid);
  const auto t0 = Clock::now();
  int started = 0, finished = 0;
  std::vector<int> active;
  const auto deadline = t0 + std::chrono::seconds(300);
  while (finished < cycles) {
    if (Clock::now() > deadline) {
      std::fprintf(stderr, "churn: only %d of %d cycles finished in 300 s\n",
                   finished, cycles);
      return 1;
    }
    while (started < cycles && static_cast<int>(active.size()) < kParallel) {
      active.push_back(g.Open(uris[started % uris.size()]));
      ++started;
    }
    g.io().run_one_for(std::chrono::milliseconds(10));
    for (size_t k = 0; k < active.size();) {
      auto& c = *g.conns_[active[k]];
      // c.received is the cycle's stage: 0 connecting, 1 joined (waiting for
      // the ack), 2 sent (waiting for the ack), 3 closing.
      const std::string group = absl::StrCat("churn", active[k] % 100);
      if (c.open && c.received == 0) {
        g.Send(active[k], absl::StrCat(R"({"cmd":"add_group","group_id":")",
                                       group, R"(","id":1})"));
        c.received = 1;
      } else if (c.open && c.received == 1 && c.acks >= 1) {
        g.Send(active[k], absl::StrCat(R"({"cmd":"send_to_group","group_id":")",
                                       group, R"(","message":"m","id":2})"));
        c.received = 2;
      } else if (c.open && c.received == 2 && c.acks >= 2) {
        if (active[k] % 2 == 0) {
          g.Close(active[k]);
        } else {
          std::error_code ec;
          c.con->get_raw_socket().close(ec);  // abrupt
        }
        c.received = 3;
      }
      if (c.closed) {
        c.con.reset();
        ++finished;
        active[k] = active.back();
        active.pop_back();
        continue;
      }
      ++k;
    }
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const ServerSample after = Sample(gw_pids, broker_pid);
  std::printf(
      "churn %d cycles (connect, join, send, close; half abrupt) in %.2f s = "
      "%.0f cycles/s; gateway cpu %.2f s (%.0f us per cycle); rss %" PRId64
      " -> %" PRId64 " KiB\n",
      cycles, secs, cycles / secs, after.gateway_cpu - before.gateway_cpu,
      (after.gateway_cpu - before.gateway_cpu) * 1e6 / cycles,
      before.gateway_rss_kib, after.gateway_rss_kib);
  if (g.failed_count_ > 0) {
    std::fprintf(stderr, "churn: %d connections failed\n", g.failed_count_);
    return 1;
  }
  return 0;
}

template <typename LoadGenKind>
int Idle(const std::vector<std::string>& uris, const std::vector<int>& gw_pids,
         int broker_pid) {
  const int n = absl::GetFlag(FLAGS_connections);
  LoadGenKind g;
  const ServerSample before = Sample(gw_pids, broker_pid);
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    g.Open(uris[i % uris.size()]);
    if (i % 500 == 499) g.Poll();  // keep handshakes flowing
  }
  if (!g.RunUntil([&] { return g.open_count_ + g.failed_count_ >= n; },
                  std::chrono::seconds(120))) {
    std::fprintf(stderr, "only %d of %d connections opened\n", g.open_count_,
                 n);
    return 1;
  }
  const double open_seconds =
      std::chrono::duration<double>(Clock::now() - t0).count();
  const ServerSample open = Sample(gw_pids, broker_pid);
  std::printf(
      "connect %d connections in %.2f s = %.0f/s; gateway cpu %.2f s = %.1f "
      "us per connection (broker %.2f s)\n",
      g.open_count_, open_seconds, g.open_count_ / open_seconds,
      open.gateway_cpu - before.gateway_cpu,
      (open.gateway_cpu - before.gateway_cpu) * 1e6 /
          std::max(1, g.open_count_),
      open.broker_cpu - before.broker_cpu);
  const auto hold_until =
      Clock::now() + std::chrono::seconds(absl::GetFlag(FLAGS_seconds));
  g.RunUntil([&] { return Clock::now() >= hold_until; },
             std::chrono::seconds(absl::GetFlag(FLAGS_seconds) + 5));
  const ServerSample held = Sample(gw_pids, broker_pid);
  const double per_connection = 1.0 / std::max(1, g.open_count_);
  std::printf("idle %d connections (%d failed): gateway rss %" PRId64
              " -> %" PRId64
              " KiB = %.2f KiB per connection; after %d s idle %" PRId64
              " KiB = %.2f KiB per connection; gateway cpu while idle %.2f "
              "s\n",
              g.open_count_, g.failed_count_, before.gateway_rss_kib,
              open.gateway_rss_kib,
              (open.gateway_rss_kib - before.gateway_rss_kib) * per_connection,
              absl::GetFlag(FLAGS_seconds), held.gateway_rss_kib,
              (held.gateway_rss_kib - before.gateway_rss_kib) * per_connection,
              held.gateway_cpu - open.gateway_cpu);
  return g.failed_count_ == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  channel::ParseFlagsWithEnvironment(argc, argv,
                                     "WebSocket load generator for ws-gateway");
  std::vector<std::string> uris =
      absl::StrSplit(absl::GetFlag(FLAGS_gateways), ',', absl::SkipEmpty());
  for (auto& uri : uris) uri += absl::GetFlag(FLAGS_url_suffix);
  const std::vector<int> gw_pids = ParsePids(absl::GetFlag(FLAGS_gateway_pids));
  const int broker_pid = absl::GetFlag(FLAGS_broker_pid);
  const std::string scenario = absl::GetFlag(FLAGS_scenario);
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
    using channel::bench::ws::TlsLoadGen;
    if (scenario == "fanout-burst") {
      return FanoutBurst<TlsLoadGen>(uris, gw_pids, broker_pid);
    }
    if (scenario == "fanout-paced") {
      return FanoutPaced<TlsLoadGen>(uris, gw_pids, broker_pid);
    }
    if (scenario == "idle") return Idle<TlsLoadGen>(uris, gw_pids, broker_pid);
    std::fprintf(stderr,
                 "wss:// gateways: fanout-burst, fanout-paced or idle only\n");
    return 2;
  }
  if (scenario == "fanout-burst") {
    return FanoutBurst<LoadGen>(uris, gw_pids, broker_pid);
  }
  if (scenario == "fanout-paced") {
    return FanoutPaced<LoadGen>(uris, gw_pids, broker_pid);
  }
  if (scenario == "many-groups") return ManyGroups(uris, gw_pids, broker_pid);
  if (scenario == "churn") return Churn(uris, gw_pids, broker_pid);
  if (scenario == "idle") return Idle<LoadGen>(uris, gw_pids, broker_pid);
  if (scenario == "scale-members" || scenario == "scale-send") {
    channel::bench::ws::ScaleParams p;
    p.first = absl::GetFlag(FLAGS_first_connection);
    p.connections = absl::GetFlag(FLAGS_connections);
    p.groups = std::max(1, absl::GetFlag(FLAGS_scale_groups));
    p.groups_per_connection = absl::GetFlag(FLAGS_groups_per_connection);
    p.rate = std::max(1, absl::GetFlag(FLAGS_rate));
    p.seconds = absl::GetFlag(FLAGS_seconds);
    p.payload = absl::GetFlag(FLAGS_payload);
    p.latency_out = absl::GetFlag(FLAGS_latency_out);
    return scenario == "scale-send" ? channel::bench::ws::ScaleSend(p, uris)
                                    : channel::bench::ws::ScaleMembers(p, uris);
  }
  std::fprintf(stderr, "unknown --scenario %s\n", scenario.c_str());
  return 2;
}
