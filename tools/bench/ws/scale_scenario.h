#ifndef CHANNEL_TOOLS_BENCH_WS_SCALE_SCENARIO_H_
#define CHANNEL_TOOLS_BENCH_WS_SCALE_SCENARIO_H_

// ws-loadgen --scenario=scale-members / scale-send: a scale run split over
// several processes (a process holds at most RLIMIT_NOFILE sockets), driven
// by tools/bench/scale-bench.sh.
//
//   scale-members  opens connections first..first+n-1 of a run (global
//                  numbering) over the gateways; connection i joins groups
//                  (i*K + k) mod G, k < K; prints "READY" once every join
//                  is acknowledged; then counts the stream: every member of
//                  a message's target group must see it exactly once.
//                  Prints its exact loss and duplicates and writes one
//                  line "<seq> <latency us>" per delivery to --latency_out.
//   scale-send     sends the paced stream: message s to group target(s)
//                  (a fixed-seed sequence every process derives alike) from
//                  one connection per gateway, round robin.
//
// Latency uses CLOCK_MONOTONIC (steady_clock), shared by every process on
// the machine. Included only by ws_loadgen.cc.
#include <fstream>
#include <random>

#include "tools/bench/ws/ws_load_client.h"

namespace channel::bench::ws {

struct ScaleParams {
  int first = 0;        // this process's first global connection index
  int connections = 0;  // this process's connections
  int groups = 1000;
  int groups_per_connection = 3;
  int rate = 50;  // stream messages per second, in total
  int seconds = 20;
  int payload = 64;
  std::string latency_out;
};

inline std::string ScaleGroup(int g) { return absl::StrCat("s", g); }

// The stream's target groups, identical in every process.
inline std::vector<int> ScaleTargets(const ScaleParams& p) {
  std::vector<int> target(static_cast<size_t>(p.rate) * p.seconds);
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> pick(0, p.groups - 1);
  for (int& t : target) t = pick(rng);
  return target;
}

inline int ScaleMembers(const ScaleParams& p,
                        const std::vector<std::string>& uris) {
  const int n = p.connections;
  const int k_per = std::min(p.groups_per_connection, p.groups);
  const std::vector<int> target = ScaleTargets(p);
  const int m = static_cast<int>(target.size());
  LoadGen g;
  const auto t0 = Clock::now();
  std::vector<int> conns;
  conns.reserve(n);
  for (int i = 0; i < n; ++i) {
    conns.push_back(g.Open(uris[(p.first + i) % uris.size()]));
    // At most 500 handshakes in flight (a gateway drops connections past
    // --max_pending_handshakes).
    while (i + 1 - (g.open_count_ + g.failed_count_) > 500) {
      g.io().run_one_for(std::chrono::milliseconds(50));
    }
  }
  if (!g.RunUntil([&] { return g.open_count_ + g.failed_count_ >= n; },
                  std::chrono::seconds(600)) ||
      g.failed_count_ > 0) {
    std::fprintf(stderr, "scale: %d of %d connections opened, %d failed\n",
                 g.open_count_, n, g.failed_count_);
    return 1;
  }
  const double connect_s =
      std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<std::vector<int>> members(p.groups);  // local members
  for (int i = 0; i < n; ++i) {
    const int64_t global = p.first + i;
    for (int k = 0; k < k_per; ++k) {
      const int grp = static_cast<int>((global * k_per + k) % p.groups);
      members[grp].push_back(conns[i]);
      g.Send(conns[i], absl::StrCat(R"({"cmd":"add_group","group_id":")",
                                    ScaleGroup(grp), R"(","id":)", k, "}"));
    }
    if (i % 200 == 199) g.Poll();
  }
  if (!g.RunUntil(
          [&] {
            for (int c : conns) {
              if (g.conns_[c]->acks < k_per) return false;
            }
            return true;
          },
          std::chrono::seconds(600))) {
    std::fprintf(stderr, "scale: joins not all acknowledged\n");
    return 1;
  }
  int64_t expected = 0;
  for (int t : target) expected += static_cast<int64_t>(members[t].size());
  std::vector<std::pair<uint32_t, int64_t>> lat;  // seq, ns
  lat.reserve(expected);
  int64_t delivered = 0, dup = 0;
  for (int c : conns) {
    auto* conn = g.conns_[c].get();
    conn->seen.assign(m, 0);
    conn->on_text = [conn, &delivered, &dup, &lat](const std::string& text) {
      const int64_t now = NowNs();
      char* end = nullptr;
      const uint32_t seq =
          static_cast<uint32_t>(std::strtoul(text.c_str(), &end, 10));
      if (seq < conn->seen.size() && conn->seen[seq]++ > 0) ++dup;
      lat.emplace_back(seq, now - std::strtoll(end, nullptr, 10));
      ++delivered;
    };
  }
  std::printf(
      "connected %d in %.1f s (%.0f/s), joined %d groups each by "
      "%.1f s\nREADY\n",
      n, connect_s, n / connect_s, k_per,
      std::chrono::duration<double>(Clock::now() - t0).count());
  std::fflush(stdout);
  // The stream starts when the script has seen every process ready; wait
  // for it with a deadline, answering pings meanwhile.
  g.RunUntil([&] { return delivered >= expected; },
             std::chrono::seconds(p.seconds + 600));
  g.RunUntil([&] { return false; }, std::chrono::seconds(1));  // late dups
  int64_t lost = 0;
  for (int s = 0; s < m; ++s) {
    for (int c : members[target[s]]) {
      if (g.conns_[c]->seen[s] == 0) ++lost;
    }
  }
  std::printf("members %d: expected %" PRId64 " delivered %" PRId64
              " lost %" PRId64 " dup %" PRId64 " closed %d\n",
              n, expected, delivered, lost, dup, g.closed_count_);
  if (!p.latency_out.empty()) {
    std::ofstream out(p.latency_out);
    for (const auto& [seq, ns] : lat) out << seq << ' ' << ns / 1000 << '\n';
  }
  return lost == 0 && dup == 0 && delivered == expected ? 0 : 1;
}

inline int ScaleSend(const ScaleParams& p,
                     const std::vector<std::string>& uris) {
  const std::vector<int> target = ScaleTargets(p);
  LoadGen g;
  std::vector<int> senders;
  for (const std::string& uri : uris) senders.push_back(g.Open(uri));
  if (!g.RunUntil(
          [&] {
            for (int s : senders) {
              if (!g.conns_[s]->open) return false;
            }
            return true;
          },
          std::chrono::seconds(30))) {
    std::fprintf(stderr, "scale-send: senders did not connect\n");
    return 1;
  }
  const auto s0 = Clock::now();
  const auto interval = std::chrono::nanoseconds(1000000000LL / p.rate);
  const int m = static_cast<int>(target.size());
  for (int sent = 0; sent < m; ++sent) {
    const auto due = s0 + sent * interval;
    while (Clock::now() < due) g.io().run_one_until(due);
    // The last message of each sender asks for a reply: once every sender
    // has its reply, every message has left.
    const bool last = sent + static_cast<int>(senders.size()) >= m;
    g.Send(senders[sent % senders.size()],
           MessageJson(ScaleGroup(target[sent]), sent, p.payload,
                       last ? sent : -1));
  }
  const bool flushed = g.RunUntil(
      [&] {
        for (int s : senders) {
          if (g.conns_[s]->acks < 1) return false;
        }
        return true;
      },
      std::chrono::seconds(60));
  std::printf("sent %d messages at %d/s in %.1f s\n", m, p.rate,
              std::chrono::duration<double>(Clock::now() - s0).count());
  return flushed ? 0 : 1;
}

}  // namespace channel::bench::ws

#endif  // CHANNEL_TOOLS_BENCH_WS_SCALE_SCENARIO_H_
