#ifndef CHANNEL_TOOLS_BENCH_WS_GROUP_SCENARIOS_H_
#define CHANNEL_TOOLS_BENCH_WS_GROUP_SCENARIOS_H_

// ws-loadgen's plain-ws scenarios many-groups and churn (ws_loadgen.cc
// says what each measures). Included only by ws_loadgen.cc, the one
// websocketpp translation unit of the tool.
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

inline int ManyGroups(const ScenarioParams& p,
                      const std::vector<std::string>& uris,
                      const std::vector<int>& gw_pids, int broker_pid) {
  const int groups = p.groups;
  const int m = p.messages;
  const int payload = p.payload;
  const int nsenders = p.senders;
  const int window = p.window;
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

inline int Churn(const ScenarioParams& p, const std::vector<std::string>& uris,
                 const std::vector<int>& gw_pids, int broker_pid) {
  const int cycles = p.cycles;
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

}  // namespace channel::bench::ws

#endif  // CHANNEL_TOOLS_BENCH_WS_GROUP_SCENARIOS_H_
