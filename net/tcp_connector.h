#ifndef CHANNEL_NET_TCP_CONNECTOR_H_
#define CHANNEL_NET_TCP_CONNECTOR_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"

namespace channel {

// One outgoing TCP connection attempt at a time: resolve `host` (a name
// may give several addresses: each is tried in turn; a numeric address is
// used as it is, with no lookup), connect, all within a deadline.
// Single-threaded: every call and callback on `io`'s thread.
//
// `done` runs exactly once per Connect, unless Cancel (or a later Connect,
// or the destructor) comes first, in which case it never runs. Its status
// says what failed, naming host and port: resolution, connection, or the
// deadline. Safe to destroy the connector while an attempt is pending: the
// attempt's handlers keep only their own state alive.
class TcpConnector {
 public:
  using Done = std::function<void(const absl::Status& status,
                                  asio::ip::tcp::socket socket)>;

  explicit TcpConnector(asio::io_context& io) : io_(io) {}
  ~TcpConnector() { Cancel(); }
  TcpConnector(const TcpConnector&) = delete;
  TcpConnector& operator=(const TcpConnector&) = delete;

  void Connect(const std::string& host, uint16_t port,
               std::chrono::milliseconds timeout, Done done);
  void Cancel();

 private:
  struct Attempt;
  // Connects to the first of `endpoints` that accepts.
  template <typename Endpoints>
  static void ConnectTo(const std::shared_ptr<Attempt>& attempt,
                        const Endpoints& endpoints);

  asio::io_context& io_;
  std::shared_ptr<Attempt> attempt_;
};

}  // namespace channel

#endif  // CHANNEL_NET_TCP_CONNECTOR_H_
