#ifndef CHANNEL_BROKER_SESSION_H_
#define CHANNEL_BROKER_SESSION_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "asio/ip/tcp.hpp"
#include "broker/codec/session_codec.h"
#include "broker/routing/subscriber.h"
#include "net/framed_stream.h"
#include "proto/channel.pb.h"

namespace channel {

struct BrokerContext;

// One client connection of the broker: a FramedStream (socket, framing,
// bounded output queue, heartbeats, deadlines) plus the codec chosen from
// the first frame, which turns bodies into Router calls.
//
// Lives on the broker's io thread for life. Owned by BrokerServer; the
// Router holds it by raw pointer until it leaves every channel, which it
// does before it reports itself finished. The output queue is bounded by
// max_queued_bytes: a session past it is closed as a slow consumer, never
// silently skipped.
class Session : public Subscriber, public FramedStream::Handler {
 public:
  Session(asio::ip::tcp::socket socket, uint64_t id, BrokerContext* context);
  ~Session() override;

  // Starts reading and the handshake deadline.
  void Start();

  // Subscriber: queues the event in this session's codec.
  bool Deliver(OutgoingEvent& event) override;
  bool DeliverQueued(OutgoingEvent& event, const std::string& group) override;
  bool WantsSoleInterest() const override {
    return codec_ != nullptr && codec_->wants_sole_interest();
  }
  bool SendInterest(const std::string& channel, uint64_t grant,
                    bool sole) override;
  void CloseUnreleased(absl::string_view reason) override;
  bool IsLink() const override { return link_; }
  size_t QueueRoom() const override;
  bool CloseIfStalled() override;
  // Hello.link: this connection carries many end users (a gateway worker).
  void set_link(bool link) { link_ = link; }

  // Queues `frame`. Returns false (and queues nothing) when the session is
  // closing, or when this frame would exceed the output bound, in which
  // case the session is closed with SLOW_CONSUMER.
  bool Send(SharedFrame frame);

  // Queues `frame` if it fits the output bound; never closes the session
  // (for callers that cannot have the session close under them).
  bool TrySend(SharedFrame frame) {
    return stream_->Send(std::move(frame)) == FramedStream::SendResult::kQueued;
  }

  // Leaves every channel at once, tells the peer why (in its codec, when
  // the codec can), and closes once that is written or after a short grace
  // period. drop_queued discards frames not yet written (slow consumer).
  // `kind` names the metric label (default: the code's name).
  void Close(v1::Error::Code code, absl::string_view reason, bool drop_queued,
             absl::string_view kind = {});

  // The broker drains: asks the peer to move to another broker (GoAway)
  // when its codec can, and returns true; false (nothing sent) when it
  // cannot or the session is closing. The session keeps working.
  bool AskToMove(uint32_t close_in_ms, absl::string_view reason);

  // Counts an error sent to the peer, by kind (or the code's name).
  void CountError(v1::Error::Code code, absl::string_view kind = {});

  // The handshake is done: heartbeats and the idle timeout start.
  void SetEstablished(std::chrono::milliseconds heartbeat_interval,
                      std::chrono::milliseconds idle_timeout);
  // Asks for a BeforeFlush this loop turn.
  void RequestFlush() { stream_->RequestFlush(); }

  // Bytes queued and not yet written.
  size_t queued_bytes() const { return stream_->queued_bytes(); }
  asio::any_io_executor executor() { return stream_->executor(); }

  uint64_t id() const { return id_; }
  bool closing() const { return stream_->closing(); }
  const std::string& peer() const { return stream_->peer(); }
  const asio::ip::address& remote_address() const {
    return stream_->remote_address();
  }
  // The broker's parts this session and its codec use.
  BrokerContext& context() const { return *ctx_; }
  void set_client_name(std::string name) { client_name_ = std::move(name); }
  const std::string& client_name() const { return client_name_; }

  // FramedStream::Handler.
  void OnFrame(absl::string_view body) override;
  void OnInvalidFrame(absl::string_view error) override;
  void OnTimeout(FramedStream::Timeout which) override;
  void OnFinished(absl::string_view reason) override;
  void BeforeFlush() override;

 private:
  const uint64_t id_;
  BrokerContext* const ctx_;
  std::shared_ptr<FramedStream> stream_;
  std::unique_ptr<SessionCodec> codec_;  // null until the first frame
  std::string client_name_;
  bool left_channels_ = false;
  bool link_ = false;
  // Leaves the Router and lets the codec release what it holds. Once.
  void Leave();
};

}  // namespace channel

#endif  // CHANNEL_BROKER_SESSION_H_
