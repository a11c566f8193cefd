#include "net/tcp_connector.h"

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/connect.hpp"
#include "asio/steady_timer.hpp"

namespace channel {

struct TcpConnector::Attempt {
  explicit Attempt(asio::io_context& io)
      : resolver(io), timer(io), socket(io) {}

  // Runs done once; later calls (a handler after the deadline, say) do
  // nothing.
  void Finish(const absl::Status& status) {
    if (!done) return;
    Done run = std::move(done);
    done = nullptr;
    Stop();
    run(status, status.ok() ? std::move(socket)
                            : asio::ip::tcp::socket(resolver.get_executor()));
  }
  void Stop() {
    resolver.cancel();
    timer.cancel();
  }

  std::string host;
  uint16_t port = 0;
  asio::ip::tcp::resolver resolver;
  asio::steady_timer timer;
  asio::ip::tcp::socket socket;
  Done done;
};

void TcpConnector::Connect(const std::string& host, uint16_t port,
                           std::chrono::milliseconds timeout, Done done) {
  Cancel();
  auto attempt = std::make_shared<Attempt>(io_);
  attempt_ = attempt;
  attempt->host = host;
  attempt->port = port;
  attempt->done = std::move(done);
  attempt->timer.expires_after(timeout);
  attempt->timer.async_wait([attempt, timeout](const std::error_code& ec) {
    if (ec) return;
    std::error_code ignored;
    attempt->socket.close(ignored);  // ends a pending connect
    attempt->Finish(absl::UnavailableError(
        absl::StrCat("no connection to ", attempt->host, ":", attempt->port,
                     " within ", timeout.count(), " ms")));
  });
  // A numeric address needs no lookup: Asio's resolver would start a
  // thread of its own for it (getaddrinfo blocks), kept for the
  // io_context's life.
  std::error_code not_numeric;
  const asio::ip::address address = asio::ip::make_address(host, not_numeric);
  if (!not_numeric) {
    ConnectTo(attempt, std::array<asio::ip::tcp::endpoint, 1>{
                           asio::ip::tcp::endpoint(address, port)});
    return;
  }
  attempt->resolver.async_resolve(
      host, std::to_string(port),
      [attempt](const std::error_code& ec,
                asio::ip::tcp::resolver::results_type results) {
        if (!attempt->done) return;
        if (ec) {
          attempt->Finish(absl::UnavailableError(
              absl::StrCat("resolve ", attempt->host, ": ", ec.message())));
          return;
        }
        ConnectTo(attempt, results);
      });
}

template <typename Endpoints>
void TcpConnector::ConnectTo(const std::shared_ptr<Attempt>& attempt,
                             const Endpoints& endpoints) {
  asio::async_connect(
      attempt->socket, endpoints,
      [attempt](const std::error_code& ec, const asio::ip::tcp::endpoint&) {
        if (!attempt->done) return;
        if (ec) {
          attempt->Finish(absl::UnavailableError(
              absl::StrCat("connect ", attempt->host, ":", attempt->port, ": ",
                           ec.message())));
          return;
        }
        attempt->Finish(absl::OkStatus());
      });
}

void TcpConnector::Cancel() {
  if (!attempt_) return;
  attempt_->done = nullptr;
  attempt_->Stop();
  std::error_code ignored;
  attempt_->socket.close(ignored);
  attempt_.reset();
}

}  // namespace channel
