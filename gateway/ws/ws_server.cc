#include "gateway/ws/ws_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/logging/log_limiter.h"
#include "common/logging/logging.h"
#include "net/socket_io.h"

namespace channel {

using Clock = std::chrono::steady_clock;

WsServer::WsServer(asio::io_context& io, Options options, Events events)
    : options_(options),
      events_(std::move(events)),
      acceptor_(io.get_executor()),
      sweep_timer_(io),
      retry_timer_(io) {}

WsServer::~WsServer() = default;

absl::Status WsServer::Listen(const std::string& host, uint16_t port,
                              uint16_t* bound) {
  if (absl::Status s = OpenListener(&acceptor_, host, port, options_.backlog,
                                    /*reuse_port=*/true);
      !s.ok()) {
    return s;
  }
  std::error_code ec;
  *bound = acceptor_.local_endpoint(ec).port();
  Accept();
  return absl::OkStatus();
}

void WsServer::StopListening() {
  std::error_code ec;
  acceptor_.close(ec);
  retry_timer_.cancel();
}

void WsServer::Accept() {
  acceptor_.async_accept(
      [this](const std::error_code& ec, WsConnection::Socket socket) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open())
          return;
        if (ec) {
          // Out of descriptors or memory, or a connection reset before it was
          // taken: try again shortly rather than spin on the error.
          CHANNEL_LOG_LIMITED(spdlog::level::warn, "accept: {}", ec.message());
          retry_timer_.expires_after(std::chrono::milliseconds(100));
          retry_timer_.async_wait([this](const std::error_code& wait_ec) {
            if (!wait_ec && acceptor_.is_open()) Accept();
          });
          return;
        }
        auto con = std::make_shared<WsConnection>(this, std::move(socket));
        if (events_.accepted(*con)) {
          Watch(con, Clock::now() + options_.handshake_timeout);
          TrimAcceptOrder();
          accept_order_.push_back(con);
          con->Start();
        } else {
          con->Terminate("refused at accept");
        }
        Accept();
      });
}

void WsServer::TrimAcceptOrder() {
  while (!accept_order_.empty()) {
    auto front = accept_order_.front().lock();
    if (front && front->state() == WsConnection::State::kHandshake) return;
    accept_order_.pop_front();
  }
}

bool WsServer::ShedOldestPending(absl::string_view why) {
  TrimAcceptOrder();
  if (accept_order_.empty()) return false;
  auto oldest = accept_order_.front().lock();
  accept_order_.pop_front();
  oldest->Terminate(why);  // its fail event runs inside
  return true;
}

void WsServer::Watch(std::shared_ptr<WsConnection> con,
                     Clock::time_point deadline) {
  WsConnection* key = con.get();
  watched_[key] = Watched{std::move(con), deadline};
  if (!sweep_armed_) ArmSweep();
}

void WsServer::Unwatch(WsConnection* con) { watched_.erase(con); }

void WsServer::ArmSweep() {
  sweep_armed_ = true;
  const auto tick = std::max(
      std::chrono::milliseconds(10),
      std::min(options_.handshake_timeout, options_.close_timeout) / 4);
  sweep_timer_.expires_after(tick);
  sweep_timer_.async_wait([this](const std::error_code& ec) {
    sweep_armed_ = false;
    if (!ec) Sweep();
  });
}

void WsServer::Sweep() {
  const Clock::time_point now = Clock::now();
  std::vector<std::shared_ptr<WsConnection>> expired;
  for (const auto& [key, watched] : watched_) {
    if (now >= watched.deadline) expired.push_back(watched.con);
  }
  for (const auto& con : expired) {
    con->Terminate(con->state() == WsConnection::State::kHandshake
                       ? "opening handshake timed out"
                       : "close timed out");
  }
  if (!watched_.empty()) ArmSweep();
}

}  // namespace channel
