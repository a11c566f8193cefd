// libFuzzer target: bytes a client sends the broker. The frame decoder, the
// envelope classification and the Router's dispatch (subscribe, unsubscribe,
// publish with fan-out to fake subscribers), with the index's invariants
// checked after every frame and at the end.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "broker/broker_options.h"
#include "broker/broker_stats.h"
#include "broker/router.h"
#include "common/envelope_codec.h"
#include "common/frame_decoder.h"

namespace {

class FakeSubscriber : public channel::Subscriber {
 public:
  bool Deliver(channel::OutgoingEvent& event) override {
    const channel::SharedFrame& frame = event.ProtobufFrame();
    bytes_ += frame->size();
    return bytes_ < (1 << 20);  // a bounded output queue, like a Session
  }
  size_t bytes_ = 0;
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
  FakeSubscriber subs[3];

  // First byte: read size, so frames arrive split at varying points.
  const size_t chunk = 1 + data[0] % 64;
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
        case channel::v1::Envelope::kSubscribe:
          router.Subscribe(sub, envelope.subscribe()).IgnoreError();
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
  if (router.channel_count() != 0 || router.subscription_count() != 0) {
    std::abort();  // a closed connection must leave no trace
  }
  return 0;
}
