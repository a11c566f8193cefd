// libFuzzer target: bytes a client sends the broker. The frame decoder, the
// envelope classification and the Router's dispatch (subscribe, unsubscribe,
// publish with fan-out to fake subscribers, sole-interest releases), with
// the index's invariants checked after every frame and at the end: nothing
// left behind, every Subscribe held for a revoke answered exactly once.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "broker/broker_options.h"
#include "broker/metrics/broker_stats.h"
#include "broker/routing/router.h"
#include "common/framing/envelope_codec.h"
#include "common/framing/frame_decoder.h"

namespace {

class FakeSubscriber : public channel::Subscriber {
 public:
  explicit FakeSubscriber(bool wants_sole = false) : wants_sole_(wants_sole) {}
  bool Deliver(channel::OutgoingEvent& event) override {
    const channel::SharedFrame& frame = event.ProtobufFrame();
    bytes_ += frame->size();
    return bytes_ < (1 << 20);  // a bounded output queue, like a Session
  }
  bool WantsSoleInterest() const override { return wants_sole_; }
  bool SendInterest(const std::string&, uint64_t, bool) override {
    return true;
  }
  // Like a Session's Close: leaves every channel at once, re-entering the
  // Router from inside its call.
  void CloseUnreleased(absl::string_view) override {
    if (router_ != nullptr) router_->RemoveAll(this);
  }
  size_t bytes_ = 0;
  channel::Router* router_ = nullptr;

 private:
  bool wants_sole_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  channel::BrokerOptions options;
  options.max_frame_bytes = 1 << 16;
  options.max_channel_name_bytes = 32;
  options.max_channels_per_connection = 16;
  options.max_channels_per_request = 8;
  channel::BrokerStats stats;
  channel::Router router(options, &stats);
  // Two subscribers take sole-interest grants; releases come from the
  // input (Interest frames), so they may be wrong, late or missing.
  FakeSubscriber subs[3] = {FakeSubscriber(true), FakeSubscriber(true),
                            FakeSubscriber(false)};
  for (auto& sub : subs) sub.router_ = &router;
  size_t held = 0;      // Subscribes whose Ack waits for a release
  size_t answered = 0;  // of those, answered

  // First byte: read size, so frames arrive split at varying points.
  const size_t chunk = 1 + data[0] % 64;
  std::vector<std::unique_ptr<bool>> owned;
  channel::FrameDecoder decoder(options.max_frame_bytes);
  channel::v1::Envelope envelope;
  size_t frames = 0;
  for (size_t pos = 1; pos < size; pos += chunk) {
    decoder.Append(reinterpret_cast<const char*>(data) + pos,
                   std::min(chunk, size - pos));
    absl::string_view body;
    for (;;) {
      const auto result = decoder.Next(&body);
      if (result != channel::FrameDecoder::Result::kFrame) {
        if (result == channel::FrameDecoder::Result::kInvalid &&
            decoder.error().empty()) {
          std::abort();  // an invalid stream must say why
        }
        break;
      }
      channel::Subscriber* sub = &subs[frames++ % 3];
      if (body.empty()) continue;
      if (channel::ParseBody(body, &envelope) != channel::BodyKind::kEnvelope) {
        continue;
      }
      switch (envelope.msg_case()) {
        case channel::v1::Envelope::kSubscribe: {
          bool waiting = false;
          bool* once = new bool(false);
          router
              .Subscribe(
                  sub, envelope.subscribe(),
                  [&answered, once] {
                    if (*once) std::abort();  // answered twice
                    *once = true;
                    ++answered;
                  },
                  &waiting)
              .IgnoreError();
          if (waiting) {
            ++held;
            owned.emplace_back(once);
          } else {
            delete once;
          }
          break;
        }
        case channel::v1::Envelope::kInterest:
          router.ReleaseSole(sub, envelope.interest().channel(),
                             envelope.interest().grant());
          if (envelope.interest().sole()) {
            // Time passes: holders late to release are closed.
            router.ExpireSole(std::chrono::steady_clock::now() +
                              std::chrono::hours(1));
          }
          break;
        case channel::v1::Envelope::kUnsubscribe:
          router.Unsubscribe(sub, envelope.unsubscribe()).IgnoreError();
          break;
        case channel::v1::Envelope::kPublish:
          router.Publish(envelope.mutable_publish()).IgnoreError();
          break;
        default:
          break;
      }
      if (router.subscription_count() >
              3 * options.max_channels_per_connection ||
          router.channel_count() > router.subscription_count()) {
        std::abort();
      }
    }
  }
  for (auto& sub : subs) router.RemoveAll(&sub);
  if (router.channel_count() != 0 || router.subscription_count() != 0 ||
      router.sole_interest().grants() != 0) {
    std::abort();  // a closed connection must leave no trace
  }
  if (answered != held) std::abort();  // a Subscribe never answered
  return 0;
}
