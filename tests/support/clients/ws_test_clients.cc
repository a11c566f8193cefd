#include "tests/support/clients/ws_test_clients.h"

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <websocketpp/client.hpp>
#include <websocketpp/config/asio_no_tls_client.hpp>

#include "asio/executor_work_guard.hpp"
#include "asio/post.hpp"
#include "gtest/gtest.h"

namespace channel::testing {

using Client = websocketpp::client<websocketpp::config::asio_client>;

struct ClientConnection {
  Client::connection_ptr con;
  bool open = false;
  bool closed = false;
  int close_code = 0;
  std::string close_reason;
  std::vector<std::string> messages;
};

class WsTestClients::Impl {
 public:
  Impl() {
    client_.clear_access_channels(websocketpp::log::alevel::all);
    client_.clear_error_channels(websocketpp::log::elevel::all);
    std::error_code ec;
    client_.init_asio(&io_, ec);
    if (ec) {  // cannot happen with a caller-supplied io_context; say so
      ADD_FAILURE() << "websocketpp init_asio: " << ec.message();
    }
    thread_ = std::thread([this] {
      auto guard = asio::make_work_guard(io_);
      io_.run();
    });
  }

  ~Impl() {
    RunOnIo([this] {
      for (auto& c : conns_) {
        std::error_code ec;
        if (c->con) c->con->get_raw_socket().close(ec);
      }
      return 0;
    });
    io_.stop();
    thread_.join();
  }

  template <typename Fn>
  auto RunOnIo(Fn&& fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::forward<Fn>(fn));
    auto result = task.get_future();
    asio::post(io_, [&task] { task(); });
    return result.get();
  }

  int Connect(const std::string& uri,
              const std::map<std::string, std::string>& headers,
              std::chrono::milliseconds timeout) {
    const int index = RunOnIo([&] {
      std::error_code ec;
      auto con = client_.get_connection(uri, ec);
      if (ec) return -1;
      for (const auto& [k, v] : headers) con->replace_header(k, v);
      std::lock_guard<std::mutex> lock(mu_);
      const int i = static_cast<int>(conns_.size());
      conns_.push_back(std::make_unique<ClientConnection>());
      conns_[i]->con = con;
      con->set_open_handler([this, i](websocketpp::connection_hdl) {
        std::error_code ec;
        conns_[i]->con->get_raw_socket().set_option(
            asio::ip::tcp::no_delay(true), ec);
        std::lock_guard<std::mutex> lock(mu_);
        conns_[i]->open = true;
        cv_.notify_all();
      });
      con->set_fail_handler([this, i](websocketpp::connection_hdl) {
        std::lock_guard<std::mutex> lock(mu_);
        conns_[i]->closed = true;
        conns_[i]->close_code = 1006;
        last_http_status_ = conns_[i]->con->get_response_code();
        cv_.notify_all();
      });
      con->set_close_handler([this, i](websocketpp::connection_hdl) {
        std::lock_guard<std::mutex> lock(mu_);
        auto& c = *conns_[i];
        c.closed = true;
        c.close_code = c.con->get_remote_close_code();
        c.close_reason = c.con->get_remote_close_reason();
        cv_.notify_all();
      });
      con->set_message_handler(
          [this, i](websocketpp::connection_hdl, Client::message_ptr msg) {
            std::lock_guard<std::mutex> lock(mu_);
            conns_[i]->messages.push_back(msg->get_payload());
            cv_.notify_all();
          });
      client_.connect(con);
      return i;
    });
    if (index < 0) return -1;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout,
                 [&] { return conns_[index]->open || conns_[index]->closed; });
    return conns_[index]->open ? index : -1;
  }

  bool SendOp(int c, const std::string& data,
              websocketpp::frame::opcode::value op) {
    return RunOnIo([&] {
      const std::error_code ec = conns_[c]->con->send(data, op);
      return !ec;
    });
  }

  std::vector<std::string> WaitForMessages(int c, size_t n,
                                           std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout,
                 [&] { return conns_[c]->messages.size() >= n; });
    return conns_[c]->messages;
  }

  std::string WaitForReply(int c, size_t from, const std::string& id_prefix,
                           std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    std::string found;
    cv_.wait_for(lock, timeout, [&] {
      const auto& m = conns_[c]->messages;
      for (size_t i = from; i < m.size(); ++i) {
        if (m[i].rfind(id_prefix, 0) == 0) {
          found = m[i];
          return true;
        }
      }
      return false;
    });
    return found;
  }

  std::optional<int> WaitClosed(int c, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return conns_[c]->closed; })) {
      return std::nullopt;
    }
    return conns_[c]->close_code;
  }

  Client client_;
  asio::io_context io_{1};
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<ClientConnection>> conns_;
  int last_http_status_ = 0;
};

WsTestClients::WsTestClients() : impl_(std::make_unique<Impl>()) {}
WsTestClients::~WsTestClients() = default;

int WsTestClients::Connect(const std::string& uri,
                           const std::map<std::string, std::string>& headers,
                           std::chrono::milliseconds timeout) {
  return impl_->Connect(uri, headers, timeout);
}

int WsTestClients::last_http_status() const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->last_http_status_;
}

bool WsTestClients::Send(int c, const std::string& text) {
  return impl_->SendOp(c, text, websocketpp::frame::opcode::text);
}

bool WsTestClients::SendBinary(int c, const std::string& bytes) {
  return impl_->SendOp(c, bytes, websocketpp::frame::opcode::binary);
}

std::string WsTestClients::Request(int c, const std::string& json,
                                   const std::string& id_json,
                                   std::chrono::milliseconds timeout) {
  const size_t from = MessageCount(c);
  if (!Send(c, json)) return "";
  return impl_->WaitForReply(c, from, "{\"id\":" + id_json + ",", timeout);
}

std::vector<std::string> WsTestClients::WaitForMessages(
    int c, size_t n, std::chrono::milliseconds timeout) {
  return impl_->WaitForMessages(c, n, timeout);
}

std::vector<std::string> WsTestClients::Messages(int c) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->conns_[c]->messages;
}

size_t WsTestClients::MessageCount(int c) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->conns_[c]->messages.size();
}

std::optional<int> WsTestClients::WaitClosed(
    int c, std::chrono::milliseconds timeout) {
  return impl_->WaitClosed(c, timeout);
}

std::string WsTestClients::CloseReason(int c) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->conns_[c]->close_reason;
}

bool WsTestClients::IsOpen(int c) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->conns_[c]->open && !impl_->conns_[c]->closed;
}

void WsTestClients::Close(int c) {
  impl_->RunOnIo([&] {
    std::error_code ec;
    impl_->conns_[c]->con->close(websocketpp::close::status::normal, "bye", ec);
    return 0;
  });
}

void WsTestClients::Abort(int c) {
  impl_->RunOnIo([&] {
    std::error_code ec;
    impl_->conns_[c]->con->get_raw_socket().close(ec);
    return 0;
  });
}

}  // namespace channel::testing
