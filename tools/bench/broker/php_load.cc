#include "tools/bench/broker/php_load.h"

#include <deque>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "asio/connect.hpp"
#include "asio/ip/tcp.hpp"
#include "common/php/php_serialize.h"
#include "net/framed_stream.h"
#include "tools/bench/broker/load_run.h"

namespace channel::bench {
namespace {

SharedFrame PhpFrame(const std::string& body) {
  std::string frame(4, '\0');
  frame += body;
  WriteFrameHeader(body.size(), frame.data());
  return std::make_shared<const std::string>(std::move(frame));
}

std::string Channels(const std::string& channel) {
  std::string out = "s:8:\"channels\";a:1:{i:0;";
  AppendPhpString(channel, &out);
  return out + "}";
}

SharedFrame Subscribe(const std::string& channel) {
  return PhpFrame("a:2:{s:4:\"type\";s:9:\"subscribe\";" + Channels(channel) +
                  "}");
}

SharedFrame Publish(const std::string& channel, const std::string& data) {
  std::string body = "a:3:{s:4:\"type\";s:7:\"publish\";" + Channels(channel) +
                     "s:4:\"data\";";
  AppendPhpString(data, &body);
  return PhpFrame(body + "}");
}

// One PHP-codec connection: frames in, counted by the owner.
class PhpConn : public FramedStream::Handler {
 public:
  using OnFrameFn = std::function<void(absl::string_view)>;
  PhpConn(asio::io_context& io, OnFrameFn on_frame, std::function<void()> up,
          std::function<void(std::string)> fail)
      : io_(io),
        on_frame_(std::move(on_frame)),
        up_(std::move(up)),
        fail_(std::move(fail)) {}
  ~PhpConn() override {
    if (stream_) stream_->Detach();
  }

  void Connect(const std::string& host, int port) {
    auto socket = std::make_shared<asio::ip::tcp::socket>(io_);
    asio::ip::tcp::resolver resolver(io_);
    std::error_code ec;
    auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec) return fail_(ec.message());
    asio::async_connect(*socket, endpoints,
                        [this, socket](const std::error_code& e,
                                       const asio::ip::tcp::endpoint&) {
                          if (e) return fail_(e.message());
                          FramedStream::Options options;
                          options.max_queued_bytes = 256 << 20;
                          stream_ = std::make_shared<FramedStream>(
                              std::move(*socket), options, this, &counters_);
                          stream_->Start();
                          stream_->SetEstablished(std::chrono::seconds(0),
                                                  std::chrono::seconds(600));
                          up_();
                        });
  }
  void Send(SharedFrame frame) {
    if (stream_->Send(std::move(frame)) != FramedStream::SendResult::kQueued) {
      fail_("PHP connection queue full or closed");
    }
  }
  void Stop() {
    if (stream_) stream_->Detach();
  }

  void OnFrame(absl::string_view body) override { on_frame_(body); }
  void OnInvalidFrame(absl::string_view error) override {
    fail_(std::string(error));
  }
  void OnTimeout(FramedStream::Timeout) override { fail_("timeout"); }
  void OnFinished(absl::string_view reason) override {
    fail_("PHP connection closed: " + std::string(reason));
  }

 private:
  asio::io_context& io_;
  OnFrameFn on_frame_;
  std::function<void()> up_;
  std::function<void(std::string)> fail_;
  StreamCounters counters_;
  std::shared_ptr<FramedStream> stream_;
};

class PhpRun : public LoadRun {
 public:
  PhpRun(std::string host, int port, const LoadShape& shape)
      : LoadRun(shape),
        host_(std::move(host)),
        port_(port),
        batch_(std::max(1, shape.window / 2)) {}

 private:
  void Setup() override {
    auto fail = [this](std::string why) { Fail(std::move(why)); };
    for (int i = 0; i < shape_.subscriber_count(); ++i) {
      const std::string channel = shape_.channel_of_subscriber(i);
      const std::string ready = absl::StrCat("ready-", i);
      subscribers_.push_back(std::make_unique<PhpConn>(
          io_,
          [this](absl::string_view body) {
            // Its own readiness marker, or a delivery.
            if (body.find("s:6:\"marker\"") != absl::string_view::npos) {
              SubscriberReady();
            } else {
              Delivered();
            }
          },
          [this, channel, ready, i] {
            PhpConn* self = subscribers_[i].get();
            self->Send(Subscribe(channel));
            // Subscribed once its own marker returns (one connection's
            // frames are handled in order).
            self->Send(Subscribe(ready));
            self->Send(Publish(ready, "marker"));
          },
          fail));
    }
    for (int i = 0; i < shape_.subscriber_count(); ++i) {
      subscribers_[i]->Connect(host_, port_);
    }
    pending_.assign(shape_.publishers, 0);
    acked_batches_.resize(shape_.publishers);
    for (int p = 0; p < shape_.publishers; ++p) {
      const std::string ack = absl::StrCat("ack-", p);
      ack_frames_.push_back(Publish(ack, "marker"));
      auto conn = std::make_unique<PhpConn>(
          io_,
          [this, p](absl::string_view) {
            // Only its ack markers reach a publisher.
            if (acked_batches_[p].empty()) return;
            const int n = acked_batches_[p].front();
            acked_batches_[p].pop_front();
            for (int k = 0; k < n; ++k) Published(p);
          },
          [this, p, ack] {
            publishers_[p]->Send(Subscribe(ack));
            PublisherReady();
          },
          fail);
      publishers_.push_back(std::move(conn));
    }
    for (auto& p : publishers_) p->Connect(host_, port_);
  }

  void Publish(int p, int64_t k) override {
    const std::string channel = shape_.channel_of_publish(k);
    auto it = publish_frames_.find(channel);
    if (it == publish_frames_.end()) {
      it = publish_frames_.emplace(channel, Publish(channel, payload_)).first;
    }
    publishers_[p]->Send(it->second);
    if (++pending_[p] == batch_) {
      acked_batches_[p].push_back(pending_[p]);
      pending_[p] = 0;
      publishers_[p]->Send(ack_frames_[p]);
    }
  }

  static SharedFrame Publish(const std::string& channel,
                             const std::string& data) {
    return ::channel::bench::Publish(channel, data);
  }

  void CloseAll() override {
    for (auto& c : subscribers_) c->Stop();
    for (auto& c : publishers_) c->Stop();
  }

  const std::string host_;
  const int port_;
  const int batch_;
  std::vector<std::unique_ptr<PhpConn>> subscribers_;
  std::vector<std::unique_ptr<PhpConn>> publishers_;
  std::vector<SharedFrame> ack_frames_;
  std::vector<int> pending_;
  std::vector<std::deque<int>> acked_batches_;
  absl::flat_hash_map<std::string, SharedFrame> publish_frames_;
};

}  // namespace

LoadResult RunPhpLoad(const std::string& host, int port,
                      const LoadShape& shape) {
  PhpRun run(host, port, shape);
  return run.Go();
}

}  // namespace channel::bench
