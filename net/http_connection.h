#ifndef CHANNEL_NET_HTTP_CONNECTION_H_
#define CHANNEL_NET_HTTP_CONNECTION_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "asio/ip/tcp.hpp"
#include "asio/steady_timer.hpp"
#include "net/http_message.h"

namespace channel {

class HttpServer;
class HttpRequestParser;

// One HTTP/1.1 connection of an HttpServer, on the server's thread. States:
// idle (keep-alive, waiting for a first byte), reading a request (the whole
// request under HttpServerOptions::request_timeout, each silence under
// idle_timeout), handling (a complete request is with the handler; nothing
// is read), writing the response (under idle_timeout). The headers are
// judged as soon as they are complete, before any body byte is awaited.
class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  using Clock = std::chrono::steady_clock;

  HttpConnection(HttpServer* server, uint64_t id, asio::ip::tcp::socket socket,
                 std::string source);
  ~HttpConnection();

  void Start();
  // Closes the socket and leaves the server. Idempotent.
  void Close();

  bool closed() const { return state_ == State::kClosed; }
  uint64_t id() const { return id_; }
  const std::string& source() const { return source_; }
  // No complete request in hand (idle, or still sending one): may be shed
  // when the server is full.
  bool Sheddable() const {
    return state_ == State::kIdle || state_ == State::kReading ||
           state_ == State::kDraining;
  }
  // When its current wait began (accept, end of last response, or first
  // byte of the request being read).
  Clock::time_point waiting_since() const { return waiting_since_; }

 private:
  // kDraining: the response is out and the connection is closing: its
  // sending side is shut, and what the client still sends (a refused
  // request's body) is read and discarded for a short bounded time, so
  // that the kernel does not answer it with a reset that could destroy the
  // response before the client reads it.
  enum class State { kIdle, kReading, kHandling, kWriting, kDraining, kClosed };

  void Read();
  void Feed(const char* data, size_t size);
  // The headers are complete: the server's checks, then the handler's.
  // False when the request was refused.
  bool CheckHead();
  void Dispatch(const char* rest, size_t rest_size);
  void Respond(HttpResponse response, bool close);
  void Fail(int status, absl::string_view code, absl::string_view message);
  void Send(std::string bytes);
  void OnWritten();
  void ArmTimer();

  HttpServer* const server_;
  const uint64_t id_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;
  const std::string source_;
  State state_ = State::kIdle;
  std::unique_ptr<HttpRequestParser> parser_;
  bool head_checked_ = false;
  bool keep_alive_ = true;
  bool close_after_write_ = false;
  bool reading_ = false;
  bool writing_ = false;
  Clock::time_point waiting_since_;
  Clock::time_point last_read_;
  size_t drained_ = 0;   // bytes discarded while draining
  std::string pending_;  // bytes after the request in hand (pipelining)
  std::string queued_;   // to write after `sending_`
  std::string sending_;  // being written
};

}  // namespace channel

#endif  // CHANNEL_NET_HTTP_CONNECTION_H_
