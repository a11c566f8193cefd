#ifndef CHANNEL_BROKER_CODEC_PROTOBUF_CODEC_H_
#define CHANNEL_BROKER_CODEC_PROTOBUF_CODEC_H_

#include <cstdint>
#include <memory>
#include <set>

#include "absl/status/statusor.h"
#include "asio/steady_timer.hpp"
#include "broker/codec/session_codec.h"
#include "proto/channel.pb.h"

namespace channel {

class Session;

// The broker's native codec: protobuf Envelopes (docs/PROTOCOL.md). Hello
// with version and token first, then Subscribe / Unsubscribe / Publish with
// Acks, per-request or cumulative.
class ProtobufCodec : public SessionCodec {
 public:
  explicit ProtobufCodec(Session* session);
  ~ProtobufCodec() override;

  absl::string_view name() const override { return "protobuf"; }
  void OnBody(absl::string_view body) override;
  const SharedFrame& EventFrame(OutgoingEvent& event) override {
    return event.ProtobufFrame();
  }
  SharedFrame CloseFrame(v1::Error::Code code,
                         absl::string_view reason) override;
  // GoAway, once the Hello was accepted (before it, the peer is closed).
  SharedFrame MoveFrame(uint32_t close_in_ms,
                        absl::string_view reason) override;
  // Sends the cumulative Ack when other frames go to the connection anyway,
  // or once kCumulativeAckDelay has passed since the oldest publish it
  // confirms: a client publishing at a low rate is not woken by an Ack per
  // message.
  void BeforeFlush() override;
  void OnClose() override;
  bool wants_sole_interest() const override { return wants_sole_interest_; }

 private:
  void HandleHello(const v1::Hello& hello);
  void HandlePublish(v1::Publish* request);
  // The outcome of a deferred publish.
  void PublishDone(uint64_t request_id, bool cumulative,
                   const absl::StatusOr<uint64_t>& result);
  void HandleSubscribe(const v1::Subscribe& request);
  void AnswerHistory(const v1::HistoryQuery& query);
  void SendMemberLists(const v1::Subscribe& request);
  void Reply(const v1::Envelope& envelope);
  void Ack(uint64_t request_id, uint64_t receivers = 0);
  void ReplyError(v1::Error::Code code, absl::string_view message,
                  uint64_t request_id);

  Session* const session_;
  bool authenticated_ = false;
  bool wants_sole_interest_ = false;
  v1::Envelope envelope_;  // reused for every frame
  // Highest cumulative_ack publish routed and not yet confirmed; 0: none.
  uint64_t cumulative_due_ = 0;
  // Publishes whose history channels the cluster has not stored yet
  // (Router::kDeferred), by request id: a cumulative Ack never covers one
  // of them. Bounded per connection (kMaxDeferred*), so that one client
  // cannot take every place JetStream's in-flight budget has.
  std::set<uint64_t> deferred_;
  size_t deferred_untracked_ = 0;  // those without a request id
  uint64_t cumulative_sent_ = 0;   // the last cumulative Ack's id
  static constexpr size_t kMaxDeferredLink = 8192;
  static constexpr size_t kMaxDeferredClient = 256;
  asio::steady_timer ack_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool ack_timer_armed_ = false;
  bool ack_overdue_ = false;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_CODEC_PROTOBUF_CODEC_H_
