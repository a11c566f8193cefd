#include "tools/bench/broker/redis_load.h"

#include <hiredis/hiredis.h>

#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "asio/connect.hpp"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "asio/write.hpp"
#include "tools/bench/broker/load_run.h"

namespace channel::bench {
namespace {

// One RESP connection: queued commands gathered into one write per loop
// pass, replies handed to on_reply one by one.
class RedisConnection {
 public:
  using OnReply = std::function<void(redisReply*)>;
  using OnError = std::function<void(const std::string&)>;

  RedisConnection(asio::io_context& io, OnReply on_reply, OnError on_error)
      : io_(io),
        socket_(io),
        reader_(redisReaderCreate()),
        on_reply_(std::move(on_reply)),
        on_error_(std::move(on_error)) {}
  ~RedisConnection() { redisReaderFree(reader_); }

  void Connect(const std::string& host, int port, std::function<void()> done) {
    asio::ip::tcp::endpoint ep(asio::ip::make_address(host), port);
    socket_.async_connect(ep, [this, done](const std::error_code& ec) {
      if (ec) return on_error_("connect redis: " + ec.message());
      socket_.set_option(asio::ip::tcp::no_delay(true));
      DoRead();
      done();
    });
  }

  void Command(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    char* cmd = nullptr;
    const int n = redisFormatCommandArgv(&cmd, static_cast<int>(args.size()),
                                         argv.data(), lens.data());
    queue_.emplace_back(cmd, static_cast<size_t>(n));
    redisFreeCommand(cmd);
    if (!writing_ && !flush_posted_) {
      flush_posted_ = true;
      asio::post(io_, [this] {
        flush_posted_ = false;
        if (!writing_) DoWrite();
      });
    }
  }

  void Close() {
    std::error_code ec;
    socket_.close(ec);
  }

 private:
  void DoWrite() {
    if (queue_.empty()) return;
    writing_ = true;
    out_.clear();
    for (auto& s : queue_) out_ += s;
    queue_.clear();
    asio::async_write(socket_, asio::buffer(out_),
                      [this](const std::error_code& ec, size_t) {
                        writing_ = false;
                        if (ec) return on_error_("write: " + ec.message());
                        DoWrite();
                      });
  }

  void DoRead() {
    socket_.async_read_some(
        asio::buffer(buffer_), [this](const std::error_code& ec, size_t n) {
          if (ec) return on_error_("read: " + ec.message());
          redisReaderFeed(reader_, buffer_.data(), n);
          void* reply = nullptr;
          while (redisReaderGetReply(reader_, &reply) == REDIS_OK && reply) {
            on_reply_(static_cast<redisReply*>(reply));
            freeReplyObject(reply);
            reply = nullptr;
          }
          DoRead();
        });
  }

  asio::io_context& io_;
  asio::ip::tcp::socket socket_;
  redisReader* reader_;
  OnReply on_reply_;
  OnError on_error_;
  std::deque<std::string> queue_;
  std::string out_;
  bool writing_ = false;
  bool flush_posted_ = false;
  std::array<char, 64 * 1024> buffer_;
};

// The same load through RESP PUBLISH/SUBSCRIBE.
class RedisRun : public LoadRun {
 public:
  RedisRun(std::string host, int port, const LoadShape& shape)
      : LoadRun(shape), host_(std::move(host)), port_(port) {}

 private:
  void Setup() override {
    auto on_error = [this](const std::string& e) { Fail(e); };
    for (int i = 0; i < shape_.subscriber_count(); ++i) {
      auto conn = std::make_unique<RedisConnection>(
          io_,
          [this](redisReply* r) {
            if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
            const std::string kind(r->element[0]->str, r->element[0]->len);
            if (kind == "message") {
              Delivered();
            } else if (kind == "subscribe") {
              SubscriberReady();
            }
          },
          on_error);
      auto* c = conn.get();
      const std::string channel = shape_.channel_of_subscriber(i);
      c->Connect(host_, port_, [c, channel] {
        c->Command({"SUBSCRIBE", channel});
      });
      subscribers_.push_back(std::move(conn));
    }
    for (int p = 0; p < shape_.publishers; ++p) {
      auto conn = std::make_unique<RedisConnection>(
          io_,
          [this, p](redisReply* r) {
            if (r->type == REDIS_REPLY_ERROR) {
              return Fail(std::string(r->str, r->len));
            }
            Published(p);  // each PUBLISH reply frees one window slot
          },
          on_error);
      conn->Connect(host_, port_, [this] { PublisherReady(); });
      publishers_.push_back(std::move(conn));
    }
  }

  void Publish(int p, int64_t k) override {
    publishers_[p]->Command(
        {"PUBLISH", shape_.channel_of_publish(k), payload_});
  }

  void CloseAll() override {
    for (auto& c : subscribers_) c->Close();
    for (auto& c : publishers_) c->Close();
  }

  const std::string host_;
  const int port_;
  std::vector<std::unique_ptr<RedisConnection>> subscribers_;
  std::vector<std::unique_ptr<RedisConnection>> publishers_;
};

}  // namespace

LoadResult RunRedisLoad(const std::string& host, int port,
                        const LoadShape& shape) {
  RedisRun run(host, port, shape);
  return run.Go();
}

}  // namespace channel::bench
