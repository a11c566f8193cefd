#ifndef CHANNEL_NET_HTTP_SERVER_H_
#define CHANNEL_NET_HTTP_SERVER_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/steady_timer.hpp"
#include "net/http_message.h"

namespace channel {

class HttpConnection;

struct HttpServerOptions {
  // From a request's first byte to its last; past it: 408, closed.
  std::chrono::milliseconds request_timeout{10000};
  // Silence allowed between reads inside a request (408 past it) and on
  // an idle keep-alive connection (closed quietly past it). Also the
  // longest a response may take to be written.
  std::chrono::milliseconds idle_timeout{5000};
  // Largest Content-Length (413 past it, without waiting for the body).
  size_t max_body_bytes = 1 << 20;
  // Open connections in all. At the cap a newcomer sheds the connection
  // that has waited longest without a complete request (idle keep-alive
  // or still sending one); if every connection has a request in hand, the
  // newcomer is refused with 503.
  size_t max_connections = 1024;
  // Open connections from one source address; past it the newcomer is
  // refused with 503. Slow clients from one address hold at most this many
  // slots; from many addresses, shedding at max_connections still makes
  // room for a newcomer while any connection lacks a complete request.
  size_t max_connections_per_source = 32;
};

// An event-driven HTTP/1.1 server on one io_context (one thread: every
// connection and handler call runs there). HTTP is parsed by websocketpp's
// parser; bodies need a Content-Length. Keep-alive and pipelining work;
// one request per connection is in hand at a time (no reads meanwhile, so
// a connection holds at most one read buffer of unparsed bytes). A slow
// client costs a connection slot and a timer, never a thread, and its
// time is bounded (HttpServerOptions).
class HttpServer {
 public:
  struct Stats {
    std::atomic<uint64_t> connections{0};  // open now
    std::atomic<uint64_t> refused_per_source{0};
    std::atomic<uint64_t> refused_full{0};
    std::atomic<uint64_t> shed{0};
    std::atomic<uint64_t> timed_out{0};  // 408: a request too slow
  };

  HttpServer(asio::io_context& io, HttpServerOptions options,
             HttpHandlers handlers);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (0: any free port) and starts accepting.
  absl::Status Listen(const std::string& host, uint16_t port);
  uint16_t port() const { return port_; }
  // Stops accepting and closes every connection. On the server's thread,
  // or once no thread runs the io_context.
  void Close();
  // Any thread.
  const Stats& stats() const { return stats_; }

  // For HttpConnection (server thread).
  const HttpServerOptions& options() const { return options_; }
  const HttpHandlers& handlers() const { return handlers_; }
  Stats& mutable_stats() { return stats_; }
  void OnConnectionClosed(uint64_t id, const std::string& source);

 private:
  void DoAccept();
  void Admit(asio::ip::tcp::socket socket);
  // Answers `status` and closes, without a connection object.
  void Refuse(asio::ip::tcp::socket& socket, absl::string_view code,
              absl::string_view message);

  const HttpServerOptions options_;
  const HttpHandlers handlers_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;
  uint16_t port_ = 0;
  bool closed_ = false;
  uint64_t next_id_ = 1;
  // Ordered by id (accept order); at most options_.max_connections.
  std::map<uint64_t, std::shared_ptr<HttpConnection>> connections_;
  absl::flat_hash_map<std::string, size_t> per_source_;
  Stats stats_;
};

}  // namespace channel

#endif  // CHANNEL_NET_HTTP_SERVER_H_
