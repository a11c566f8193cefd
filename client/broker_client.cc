#include "client/broker_client.h"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <random>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "asio/connect.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "common/backoff.h"
#include "common/envelope_codec.h"
#include "common/frame_decoder.h"
#include "common/frame_encoder.h"
#include "common/frame_queue.h"
#include "common/logging.h"

namespace channel {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kMaxGather = 512;  // frames per sendmsg (IOV_MAX is 1024)

absl::Status StatusFromError(const v1::Error& error) {
  const std::string text =
      absl::StrCat(v1::Error::Code_Name(error.code()), ": ", error.message());
  switch (error.code()) {
    case v1::Error::LIMIT_EXCEEDED:
      return absl::ResourceExhaustedError(text);
    case v1::Error::INVALID_REQUEST:
      return absl::InvalidArgumentError(text);
    case v1::Error::UNAUTHENTICATED:
      return absl::UnauthenticatedError(text);
    default:
      return absl::UnavailableError(text);
  }
}

}  // namespace

// Shared with its own async handlers so that it outlives them; BrokerClient
// detaches the user's callbacks on destruction.
class BrokerClient::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, BrokerClientOptions options)
      : io_(io),
        options_(std::move(options)),
        resolver_(io),
        socket_(io),
        timer_(io),
        retry_timer_(io),
        backoff_(options_.backoff_initial, options_.backoff_max,
                 std::random_device{}()),
        decoder_(options_.max_frame_bytes) {}

  void Start() {
    if (running_) return;
    running_ = true;
    Connect();
  }

  void Stop() {
    running_ = false;
    event_handler_ = nullptr;
    state_handler_ = nullptr;
    retry_timer_.cancel();
    Drop("client stopped");
  }

  void Subscribe(const std::vector<std::string>& channels, Done done) {
    for (const auto& channel : channels) desired_.insert(channel);
    if (!welcomed_) {
      if (done) done(absl::UnavailableError("not connected to the broker"), 0);
      return;
    }
    v1::Envelope envelope;
    auto* request = envelope.mutable_subscribe();
    for (const auto& channel : channels) request->add_channels(channel);
    request->set_request_id(Track(std::move(done)));
    Enqueue(EncodeFrame(envelope));
  }

  void Unsubscribe(const std::vector<std::string>& channels, Done done) {
    for (const auto& channel : channels) desired_.erase(channel);
    if (!welcomed_) {
      // Nothing to undo at the broker: the link is down, and the channel
      // will not be re-subscribed.
      if (done) done(absl::OkStatus(), 0);
      return;
    }
    v1::Envelope envelope;
    auto* request = envelope.mutable_unsubscribe();
    for (const auto& channel : channels) request->add_channels(channel);
    request->set_request_id(Track(std::move(done)));
    Enqueue(EncodeFrame(envelope));
  }

  absl::Status Publish(const std::vector<std::string>& channels,
                       absl::string_view payload, const v1::Metadata* meta,
                       Done done) {
    if (!connected_) {
      return absl::UnavailableError("not connected to the broker");
    }
    if (out_.bytes() + payload.size() > options_.max_queued_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("more than ", options_.max_queued_bytes,
                       " bytes queued towards the broker"));
    }
    v1::Envelope envelope;
    auto* request = envelope.mutable_publish();
    for (const auto& channel : channels) request->add_channels(channel);
    request->set_payload(payload.data(), payload.size());
    if (meta != nullptr) *request->mutable_meta() = *meta;
    request->set_request_id(Track(std::move(done)));
    if (envelope.ByteSizeLong() + 4 > options_.max_frame_bytes) {
      Untrack(request->request_id());
      return absl::InvalidArgumentError(
          absl::StrCat("publish of ", payload.size(),
                       " bytes exceeds the broker's frame limit"));
    }
    ++stats_.publishes_sent;
    Enqueue(EncodeFrame(envelope));
    return absl::OkStatus();
  }

  bool connected() const { return connected_; }
  size_t subscription_count() const { return desired_.size(); }
  const BrokerClientStats& stats() const { return stats_; }

  EventHandler event_handler_;
  StateHandler state_handler_;

 private:
  uint64_t Track(Done done) {
    if (!done) return 0;
    const uint64_t id = next_request_id_++;
    pending_.emplace(id, std::move(done));
    return id;
  }
  void Untrack(uint64_t id) {
    if (id != 0) pending_.erase(id);
  }

  void Connect() {
    if (!running_) return;
    const uint64_t gen = ++generation_;
    handshaking_ = true;
    ArmTimer(options_.connect_timeout);
    resolver_.async_resolve(
        options_.host, std::to_string(options_.port),
        [self = shared_from_this(), gen](
            const std::error_code& ec,
            asio::ip::tcp::resolver::results_type results) {
          if (gen != self->generation_) return;
          if (ec) {
            self->Fail(absl::StrCat("resolve ", self->options_.host, ": ",
                                    ec.message()));
            return;
          }
          asio::async_connect(
              self->socket_, results,
              [self, gen](const std::error_code& ec2,
                          const asio::ip::tcp::endpoint&) {
                if (gen != self->generation_) return;
                if (ec2) {
                  self->Fail(absl::StrCat("connect ", self->options_.host, ":",
                                          self->options_.port, ": ",
                                          ec2.message()));
                  return;
                }
                self->OnConnected();
              });
        });
  }

  void OnConnected() {
    std::error_code ec;
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
    last_read_ = last_write_ = Clock::now();
    decoder_ = FrameDecoder(options_.max_frame_bytes);
    v1::Envelope hello;
    hello.mutable_hello()->set_client_name(options_.client_name);
    hello.mutable_hello()->set_protocol_version(1);
    hello.mutable_hello()->set_auth_token(options_.auth_token);
    Enqueue(EncodeFrame(hello));
    DoRead();
  }

  void OnWelcome(const v1::Welcome& welcome) {
    handshaking_ = false;
    welcomed_ = true;
    backoff_.Reset();
    if (welcome.idle_timeout_ms() > 0) {
      idle_timeout_ = std::chrono::milliseconds(welcome.idle_timeout_ms());
      // Heartbeat well within the broker's idle timeout.
      heartbeat_interval_ = std::min<std::chrono::milliseconds>(
          options_.heartbeat_interval,
          std::chrono::milliseconds(welcome.idle_timeout_ms() / 3));
    } else {
      idle_timeout_ = options_.idle_timeout;
      heartbeat_interval_ = options_.heartbeat_interval;
    }
    spdlog::info("connected to broker {}:{} (id {}, version {})", options_.host,
                 options_.port, welcome.broker_id(), welcome.broker_version());
    ArmTimer(heartbeat_interval_ / 2);
    // Re-subscribe everything held, in batches; the link counts as connected
    // once the broker has acknowledged them all, so that "connected" means
    // "subscriptions are live".
    std::vector<std::string> all(desired_.begin(), desired_.end());
    resubscribes_pending_ = 0;
    for (size_t i = 0; i < all.size(); i += options_.resubscribe_batch) {
      v1::Envelope envelope;
      auto* request = envelope.mutable_subscribe();
      const size_t end = std::min(all.size(), i + options_.resubscribe_batch);
      for (size_t j = i; j < end; ++j) request->add_channels(all[j]);
      ++resubscribes_pending_;
      const uint64_t gen = generation_;
      request->set_request_id(
          Track([this, gen](const absl::Status& status, uint64_t) {
            if (gen != generation_) return;
            if (!status.ok()) {
              spdlog::error("re-subscribe refused by the broker: {}",
                            status.message());
            }
            if (--resubscribes_pending_ == 0) MarkConnected();
          }));
      Enqueue(EncodeFrame(envelope));
    }
    if (resubscribes_pending_ == 0) MarkConnected();
  }

  void MarkConnected() {
    connected_ = true;
    ++stats_.connects;
    if (state_handler_) state_handler_(true, "");
  }

  void DoRead() {
    const uint64_t gen = generation_;
    socket_.async_read_some(
        asio::buffer(read_buffer_),
        [self = shared_from_this(), gen](const std::error_code& ec, size_t n) {
          if (gen != self->generation_) return;
          self->OnRead(ec, n);
        });
  }

  void OnRead(const std::error_code& ec, size_t bytes) {
    if (ec) {
      Fail(ec == asio::error::eof ? "broker closed the connection"
                                  : ec.message());
      return;
    }
    stats_.bytes_in += bytes;
    last_read_ = Clock::now();
    decoder_.Append(read_buffer_.data(), bytes);
    const uint64_t gen = generation_;
    absl::string_view body;
    while (gen == generation_) {
      const FrameDecoder::Result result = decoder_.Next(&body);
      if (result == FrameDecoder::Result::kNeedMore) break;
      if (result == FrameDecoder::Result::kInvalid) {
        Fail(absl::StrCat("bad frame from broker: ", decoder_.error()));
        return;
      }
      if (body.empty()) continue;  // heartbeat
      if (ParseBody(body, &envelope_) != BodyKind::kEnvelope) {
        Fail("unparsable frame body from broker");
        return;
      }
      HandleEnvelope();
    }
    if (gen == generation_) DoRead();
  }

  void HandleEnvelope() {
    switch (envelope_.msg_case()) {
      case v1::Envelope::kWelcome:
        if (handshaking_) OnWelcome(envelope_.welcome());
        return;
      case v1::Envelope::kEvent:
        ++stats_.events_received;
        if (event_handler_) event_handler_(*envelope_.mutable_event());
        return;
      case v1::Envelope::kAck: {
        auto it = pending_.find(envelope_.ack().request_id());
        if (it == pending_.end()) return;
        Done done = std::move(it->second);
        pending_.erase(it);
        done(absl::OkStatus(), envelope_.ack().receivers());
        return;
      }
      case v1::Envelope::kError: {
        const v1::Error& error = envelope_.error();
        auto it = pending_.find(error.request_id());
        if (error.request_id() != 0 && it != pending_.end()) {
          Done done = std::move(it->second);
          pending_.erase(it);
          done(StatusFromError(error), 0);
          return;
        }
        spdlog::warn("broker error {}: {}", v1::Error::Code_Name(error.code()),
                     error.message());
        return;  // a fatal error is followed by the broker closing the link
      }
      default:
        return;
    }
  }

  void Enqueue(SharedFrame frame) {
    out_.Push(std::move(frame));
    if (!waiting_writable_ && !flush_posted_) {
      // Batch: everything queued in this pass of the loop goes in one write.
      flush_posted_ = true;
      const uint64_t gen = generation_;
      asio::post(io_, [self = shared_from_this(), gen] {
        self->flush_posted_ = false;
        if (gen == self->generation_ && !self->waiting_writable_) {
          self->WriteNow();
        }
      });
    }
  }

  // Writes as much as the socket takes in one sendmsg per up to kMaxGather
  // frames (none copied); waits for writability when it is full.
  void WriteNow() {
    iovec iov[kMaxGather];
    while (!out_.empty()) {
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<size_t>(out_.Fill(iov, kMaxGather));
      const ssize_t n =
          ::sendmsg(socket_.native_handle(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          waiting_writable_ = true;
          const uint64_t gen = generation_;
          socket_.async_wait(
              asio::ip::tcp::socket::wait_write,
              [self = shared_from_this(), gen](const std::error_code& ec) {
                if (gen != self->generation_) return;
                self->waiting_writable_ = false;
                if (ec) {
                  self->Fail(ec.message());
                  return;
                }
                self->WriteNow();
              });
          return;
        }
        Fail(std::error_code(errno, std::system_category()).message());
        return;
      }
      stats_.bytes_out += static_cast<uint64_t>(n);
      out_.Consume(static_cast<size_t>(n));
      last_write_ = Clock::now();
    }
  }

  void ArmTimer(std::chrono::milliseconds after) {
    const uint64_t gen = generation_;
    timer_.expires_after(after);
    timer_.async_wait(
        [self = shared_from_this(), gen](const std::error_code& ec) {
          if (ec || gen != self->generation_) return;
          self->OnTimer();
        });
  }

  void OnTimer() {
    if (handshaking_) {
      Fail(absl::StrCat("no handshake with ", options_.host, ":", options_.port,
                        " within ", options_.connect_timeout.count(), " ms"));
      return;
    }
    const auto now = Clock::now();
    if (now - last_read_ >= idle_timeout_) {
      Fail(absl::StrCat("broker silent for ", idle_timeout_.count(), " ms"));
      return;
    }
    if (out_.empty() && now - last_write_ >= heartbeat_interval_ / 2) {
      Enqueue(HeartbeatFrame());
    }
    ArmTimer(heartbeat_interval_ / 2);
  }

  // Tears the current link down without scheduling a reconnect.
  void Drop(absl::string_view reason) {
    ++generation_;  // every handler of the old link becomes stale
    std::error_code ec;
    resolver_.cancel();
    timer_.cancel();
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    out_ = FrameQueue();
    waiting_writable_ = false;
    const bool was_connected = connected_;
    connected_ = false;
    welcomed_ = false;
    handshaking_ = false;
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& [id, done] : pending) {
      done(absl::UnavailableError(absl::StrCat("broker link lost: ", reason)),
           0);
    }
    if (was_connected) {
      ++stats_.disconnects;
      if (state_handler_) state_handler_(false, reason);
    }
  }

  // Link failed: drop it and reconnect after a backoff delay.
  void Fail(absl::string_view reason) {
    if (!welcomed_) ++stats_.connect_failures;
    const bool was_connected = welcomed_;
    Drop(reason);
    if (!running_) return;
    const auto delay = backoff_.Next();
    if (was_connected || backoff_.attempt() <= 1) {
      spdlog::warn("broker link to {}:{} down: {}; reconnecting in {} ms",
                   options_.host, options_.port, reason, delay.count());
    } else {
      spdlog::debug("broker {}:{} unreachable: {}; retry in {} ms",
                    options_.host, options_.port, reason, delay.count());
    }
    retry_timer_.expires_after(delay);
    retry_timer_.async_wait(
        [self = shared_from_this()](const std::error_code& ec) {
          if (!ec) self->Connect();
        });
  }

  asio::io_context& io_;
  const BrokerClientOptions options_;
  asio::ip::tcp::resolver resolver_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;
  asio::steady_timer retry_timer_;
  Backoff backoff_;
  FrameDecoder decoder_;
  std::array<char, 64 * 1024> read_buffer_;
  v1::Envelope envelope_;  // reused for every received frame

  uint64_t generation_ = 0;
  bool running_ = false;
  bool handshaking_ = false;
  bool welcomed_ = false;   // Welcome received: requests may be sent
  bool connected_ = false;  // welcomed_ and every re-subscribe acknowledged
  int resubscribes_pending_ = 0;
  std::chrono::milliseconds idle_timeout_{35000};
  std::chrono::milliseconds heartbeat_interval_{10000};
  Clock::time_point last_read_;
  Clock::time_point last_write_;

  FrameQueue out_;
  bool waiting_writable_ = false;
  bool flush_posted_ = false;

  absl::flat_hash_set<std::string> desired_;
  absl::flat_hash_map<uint64_t, Done> pending_;
  uint64_t next_request_id_ = 1;
  BrokerClientStats stats_;
};

BrokerClient::BrokerClient(asio::io_context& io, BrokerClientOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

BrokerClient::~BrokerClient() { impl_->Stop(); }

void BrokerClient::set_event_handler(EventHandler handler) {
  impl_->event_handler_ = std::move(handler);
}
void BrokerClient::set_state_handler(StateHandler handler) {
  impl_->state_handler_ = std::move(handler);
}
void BrokerClient::Start() { impl_->Start(); }
void BrokerClient::Stop() { impl_->Stop(); }
void BrokerClient::Subscribe(const std::vector<std::string>& channels,
                             Done done) {
  impl_->Subscribe(channels, std::move(done));
}
void BrokerClient::Unsubscribe(const std::vector<std::string>& channels,
                               Done done) {
  impl_->Unsubscribe(channels, std::move(done));
}
absl::Status BrokerClient::Publish(const std::vector<std::string>& channels,
                                   absl::string_view payload,
                                   const v1::Metadata* meta, Done done) {
  return impl_->Publish(channels, payload, meta, std::move(done));
}
bool BrokerClient::connected() const { return impl_->connected(); }
size_t BrokerClient::subscription_count() const {
  return impl_->subscription_count();
}
const BrokerClientStats& BrokerClient::stats() const { return impl_->stats(); }

}  // namespace channel
