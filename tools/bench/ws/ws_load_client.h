#ifndef CHANNEL_TOOLS_BENCH_WS_WS_LOAD_CLIENT_H_
#define CHANNEL_TOOLS_BENCH_WS_WS_LOAD_CLIENT_H_

// The client side of ws-loadgen: many WebSocket connections on one thread
// (websocketpp client, no locks), the servers' CPU and RSS from /proc, and
// the message format every scenario uses ("<seq> <send time ns> " padded).
// Included only by ws_loadgen.cc (its one websocketpp translation unit) and
// the scenario headers it includes.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>
#include <websocketpp/client.hpp>
#include <websocketpp/concurrency/none.hpp>
#include <websocketpp/config/asio_client.hpp>
#include <websocketpp/config/asio_no_tls_client.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tools/bench/common/load_shape.h"

namespace channel::bench::ws {

using Clock = std::chrono::steady_clock;

// websocketpp's client over Asio for one thread, ws (asio_client) or wss
// (asio_tls_client).
template <typename Base>
struct ClientConfigT : public Base {
  typedef ClientConfigT type;
  typedef Base base;
  typedef websocketpp::concurrency::none concurrency_type;
  typedef websocketpp::log::basic<concurrency_type, websocketpp::log::elevel>
      elog_type;
  typedef websocketpp::log::basic<concurrency_type, websocketpp::log::alevel>
      alog_type;
  struct transport_config : public Base::transport_config {
    typedef typename type::concurrency_type concurrency_type;
    typedef typename type::alog_type alog_type;
    typedef typename type::elog_type elog_type;
    static bool const enable_multithreading = false;
  };
  typedef websocketpp::transport::asio::endpoint<transport_config>
      transport_type;
  static bool const enable_multithreading = false;
  static const long timeout_open_handshake = 20000;
};

using ClientConfig = ClientConfigT<websocketpp::config::asio_client>;
using TlsClientConfig = ClientConfigT<websocketpp::config::asio_tls_client>;

inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             Clock::now().time_since_epoch())
      .count();
}

inline std::vector<int> ParsePids(const std::string& s) {
  std::vector<int> out;
  for (absl::string_view p : absl::StrSplit(s, ',', absl::SkipEmpty())) {
    out.push_back(std::atoi(std::string(p).c_str()));
  }
  return out;
}

// CPU seconds and RSS of the servers under test.
struct ServerSample {
  double gateway_cpu = 0;
  double broker_cpu = 0;
  int64_t gateway_rss_kib = 0;
};

inline ServerSample Sample(const std::vector<int>& gateways, int broker) {
  ServerSample s;
  for (int pid : gateways) {
    s.gateway_cpu += channel::bench::ProcessCpuSeconds(pid);
    s.gateway_rss_kib += channel::bench::ProcessRssKib(pid);
  }
  if (broker) s.broker_cpu = channel::bench::ProcessCpuSeconds(broker);
  return s;
}

// Many connections of one kind (Config: ClientConfig for ws://,
// TlsClientConfig for wss://, any certificate accepted) on one thread.
template <typename Config>
class LoadGenT {
 public:
  using Client = websocketpp::client<Config>;
  static constexpr bool kTls = std::is_same_v<Config, TlsClientConfig>;
  struct Conn {
    typename Client::connection_ptr con;
    bool open = false;
    bool closed = false;
    int acks = 0;
    uint64_t received = 0;
    std::vector<uint8_t> seen;  // per sequence number: deliveries
    std::function<void(const std::string&)> on_text;
  };

  LoadGenT() {
    if constexpr (kTls) {
      auto tls =
          std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
      tls->set_verify_mode(asio::ssl::verify_none);
      client_.set_tls_init_handler(
          [tls](websocketpp::connection_hdl) { return tls; });
    }
    client_.clear_access_channels(websocketpp::log::alevel::all);
    client_.clear_error_channels(websocketpp::log::elevel::all);
    std::error_code ec;
    client_.init_asio(&io_, ec);
    if (ec) {
      std::fprintf(stderr, "websocketpp init_asio: %s\n", ec.message().c_str());
      std::exit(2);
    }
  }

  // Opens a connection; returns its index (check conns_[i]->open later).
  int Open(const std::string& uri) {
    std::error_code ec;
    auto con = client_.get_connection(uri, ec);
    if (ec) {
      std::fprintf(stderr, "bad uri %s: %s\n", uri.c_str(),
                   ec.message().c_str());
      std::exit(2);
    }
    const int i = static_cast<int>(conns_.size());
    conns_.push_back(std::make_unique<Conn>());
    Conn* c = conns_.back().get();
    c->con = con;
    con->set_open_handler([this, c](websocketpp::connection_hdl) {
      c->open = true;
      ++open_count_;
      std::error_code e;
      c->con->get_raw_socket().set_option(asio::ip::tcp::no_delay(true), e);
    });
    con->set_fail_handler([this, c](websocketpp::connection_hdl) {
      c->closed = true;
      if (++failed_count_ <= 5) {  // the first few reasons, for diagnosis
        std::fprintf(stderr, "connection failed: %s (HTTP %d)\n",
                     c->con->get_ec().message().c_str(),
                     static_cast<int>(c->con->get_response_code()));
      }
    });
    con->set_close_handler([this, c](websocketpp::connection_hdl) {
      c->closed = true;
      c->open = false;
      --open_count_;
      ++closed_count_;
    });
    con->set_message_handler(
        [c](websocketpp::connection_hdl, typename Client::message_ptr msg) {
          const std::string& text = msg->get_payload();
          if (text.compare(0, 6, "{\"id\":") == 0) {
            ++c->acks;
            if (text.find("\"error\"") != std::string::npos) {
              std::fprintf(stderr, "error reply: %s\n", text.c_str());
            }
          } else if (c->on_text) {
            c->on_text(text);
          }
        });
    client_.connect(con);
    return i;
  }

  void Send(int i, const std::string& text) {
    conns_[i]->con->send(text, websocketpp::frame::opcode::text);
  }

  void Close(int i) {
    std::error_code ec;
    conns_[i]->con->close(websocketpp::close::status::normal, "", ec);
  }

  // Runs the loop until pred() or the timeout; false on timeout.
  bool RunUntil(const std::function<bool()>& pred,
                std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!pred()) {
      if (Clock::now() > deadline) return false;
      io_.run_one_for(std::chrono::milliseconds(50));
    }
    return true;
  }

  void Poll() { io_.poll(); }
  asio::io_context& io() { return io_; }

  Client client_;
  asio::io_context io_{1};
  std::vector<std::unique_ptr<Conn>> conns_;
  int open_count_ = 0;
  int failed_count_ = 0;
  int closed_count_ = 0;
};

inline std::string MessageJson(const std::string& group, uint32_t seq,
                               int payload, int id) {
  // "<seq> <send time ns> " padded with 'x' to `payload` bytes.
  std::string text = absl::StrCat(seq, " ", NowNs(), " ");
  if (static_cast<int>(text.size()) < payload)
    text.append(payload - text.size(), 'x');
  std::string json = absl::StrCat(R"({"cmd":"send_to_group","group_id":")",
                                  group, R"(","message":")", text, "\"");
  if (id >= 0) absl::StrAppend(&json, ",\"id\":", id);
  json += "}";
  return json;
}

struct Latencies {
  std::vector<int64_t> ns;
  void Print() {
    if (ns.empty()) return;
    std::sort(ns.begin(), ns.end());
    auto at = [&](double q) {
      return ns[std::min(ns.size() - 1, static_cast<size_t>(q * ns.size()))] /
             1e3;
    };
    std::printf("latency_us p50 %.0f p99 %.0f max %.0f (%zu samples)\n",
                at(0.5), at(0.99), ns.back() / 1e3, ns.size());
  }
};

using LoadGen = LoadGenT<ClientConfig>;
using TlsLoadGen = LoadGenT<TlsClientConfig>;

// Opens `n` members over the gateways, joins `group_of(i)`, waits for acks.
template <typename LoadGen>
bool OpenMembers(LoadGen& g, const std::vector<std::string>& uris, int n,
                 const std::function<std::string(int)>& group_of,
                 std::vector<int>* members) {
  for (int i = 0; i < n; ++i) members->push_back(g.Open(uris[i % uris.size()]));
  if (!g.RunUntil([&] { return g.open_count_ + g.failed_count_ >= n; },
                  std::chrono::seconds(60)) ||
      g.failed_count_ > 0) {
    std::fprintf(stderr, "only %d of %d connections opened\n", g.open_count_,
                 n);
    return false;
  }
  for (int i = 0; i < n; ++i) {
    g.Send((*members)[i], absl::StrCat(R"({"cmd":"add_group","group_id":")",
                                       group_of(i), R"(","id":1})"));
  }
  return g.RunUntil(
      [&] {
        for (int m : *members) {
          if (g.conns_[m]->acks < 1) return false;
        }
        return true;
      },
      std::chrono::seconds(60));
}

}  // namespace channel::bench::ws

#endif  // CHANNEL_TOOLS_BENCH_WS_WS_LOAD_CLIENT_H_
