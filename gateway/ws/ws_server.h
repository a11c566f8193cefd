#ifndef CHANNEL_GATEWAY_WS_WS_SERVER_H_
#define CHANNEL_GATEWAY_WS_WS_SERVER_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/steady_timer.hpp"
#include "gateway/auth/admission.h"
#include "gateway/ws/http_request.h"
#include "gateway/ws/ws_connection.h"

namespace channel {

class TlsContext;

// A worker's WebSocket listener, ws or wss (WsConnection is the connection).
// Accepts on a SO_REUSEPORT socket, owns each connection until it opens,
// ends the ones whose opening handshake or self-started close outlasts its
// deadline. Lives on the worker's thread; the events run there.
class WsServer {
 public:
  struct Options {
    size_t max_message_bytes = 64 * 1024;
    std::chrono::milliseconds handshake_timeout{5000};
    // A close this side starts on its own (a protocol error, an answered
    // close) ends by then even if the peer stops reading.
    std::chrono::milliseconds close_timeout{3000};
    // The fan-out closes a connection politely once more than its bound
    // is queued (FanoutWriter); pongs and replies are not checked there. A
    // connection whose queue passes twice the bound plus 1 MiB is cut: a
    // client that pings or commands without reading costs bounded memory.
    size_t max_queued_bytes = 16 * 1024 * 1024;
    int backlog = 1024;
    // Not null: wss, every connection completes a TLS handshake first
    // (within handshake_timeout). Outlives the server.
    const TlsContext* tls = nullptr;
  };
  // Every event gets the connection; none may destroy the server.
  struct Events {
    // TCP accepted. False: drop it (fail follows).
    std::function<bool(WsConnection&)> accepted;
    // A valid upgrade request: allow it, or answer with a status and body.
    std::function<Admission::Verdict(WsConnection&)> validate;
    // The 101 is queued; resource() is still readable.
    std::function<void(WsConnection&)> open;
    // Ends of connections that opened / never opened.
    std::function<void(WsConnection&)> close;
    std::function<void(WsConnection&, absl::string_view why)> fail;
    std::function<void(WsConnection&, const std::string& payload, bool is_text)>
        message;
    // A data message read after this side's close frame: never delivered
    // (nothing may answer it), only reported. Optional.
    std::function<void(WsConnection&)> message_after_close;
    std::function<void(WsConnection&)> pong;
    // The answer to a plain HTTP request (no upgrade) for a resource.
    std::function<PlainHttpReply(absl::string_view resource)> http;
  };

  WsServer(asio::io_context& io, Options options, Events events);
  ~WsServer();
  WsServer(const WsServer&) = delete;
  WsServer& operator=(const WsServer&) = delete;

  // Binds host:port (0: any) with SO_REUSEADDR and SO_REUSEPORT, listens
  // and accepts; *bound gets the port.
  absl::Status Listen(const std::string& host, uint16_t port, uint16_t* bound);
  void StopListening();
  bool listening() const { return acceptor_.is_open(); }

  // For WsConnection.
  const Options& options() const { return options_; }
  const Events& events() const { return events_; }
  // Ends the oldest connection still in its opening handshake. False when
  // there is none.
  bool ShedOldestPending(absl::string_view why);

  // Holds `con` and ends it at `deadline` unless it leaves first.
  void Watch(std::shared_ptr<WsConnection> con,
             std::chrono::steady_clock::time_point deadline);
  void Unwatch(WsConnection* con);

 private:
  void Accept();
  // Drops the front of accept_order_ while it is not pending.
  void TrimAcceptOrder();
  void ArmSweep();
  void Sweep();

  const Options options_;
  const Events events_;
  asio::basic_socket_acceptor<asio::ip::tcp, asio::io_context::executor_type>
      acceptor_;
  asio::steady_timer sweep_timer_;
  asio::steady_timer retry_timer_;  // after accept errors (EMFILE)
  bool sweep_armed_ = false;
  struct Watched {
    std::shared_ptr<WsConnection> con;
    std::chrono::steady_clock::time_point deadline;
  };
  absl::flat_hash_map<WsConnection*, Watched> watched_;
  // Accepted connections in accept order, trimmed from the front of those
  // no longer in their handshake: the oldest pending is found in amortized
  // constant time. Holds at most the accepts of one handshake timeout.
  std::deque<std::weak_ptr<WsConnection>> accept_order_;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_WS_WS_SERVER_H_
