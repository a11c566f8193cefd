#ifndef CHANNEL_TOOLS_BENCH_WS_FANOUT_SCENARIOS_H_
#define CHANNEL_TOOLS_BENCH_WS_FANOUT_SCENARIOS_H_

// ws-loadgen's scenarios over ws or wss (LoadGenKind: LoadGen or
// TlsLoadGen): fanout-burst, fanout-paced and idle (ws_loadgen.cc says what
// each measures). Included only by ws_loadgen.cc, the one websocketpp
// translation unit of the tool.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tools/bench/ws/scenario_params.h"
#include "tools/bench/ws/ws_load_client.h"

namespace channel::bench::ws {

template <typename LoadGenKind>
int FanoutBurst(const ScenarioParams& p, const std::vector<std::string>& uris,
                const std::vector<int>& gw_pids, int broker_pid) {
  const int n = p.members;
  const int m = p.messages;
  const int payload = p.payload;
  const int window = p.window;
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
int FanoutPaced(const ScenarioParams& p, const std::vector<std::string>& uris,
                const std::vector<int>& gw_pids, int broker_pid) {
  const int n = p.members;
  const int rate = p.rate;
  const int secs = p.seconds;
  const int payload = p.payload;
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

template <typename LoadGenKind>
int Idle(const ScenarioParams& p, const std::vector<std::string>& uris,
         const std::vector<int>& gw_pids, int broker_pid) {
  const int n = p.connections;
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
  const auto hold_until = Clock::now() + std::chrono::seconds(p.seconds);
  g.RunUntil([&] { return Clock::now() >= hold_until; },
             std::chrono::seconds(p.seconds + 5));
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
              p.seconds, held.gateway_rss_kib,
              (held.gateway_rss_kib - before.gateway_rss_kib) * per_connection,
              held.gateway_cpu - open.gateway_cpu);
  return g.failed_count_ == 0 ? 0 : 1;
}

}  // namespace channel::bench::ws

#endif  // CHANNEL_TOOLS_BENCH_WS_FANOUT_SCENARIOS_H_
