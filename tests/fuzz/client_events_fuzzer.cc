// libFuzzer target: bytes the broker sends a client. The client library's
// frame decoding and envelope classification, and the gateway's mapping of
// an Event's channel to a group.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/framing/envelope_codec.h"
#include "common/framing/frame_decoder.h"
#include "gateway/fanout/delivery.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  channel::FrameDecoder decoder(1 << 16);
  decoder.Append(reinterpret_cast<const char*>(data), size);
  channel::v1::Envelope envelope;
  absl::string_view body;
  std::string group;
  while (decoder.Next(&body) == channel::FrameDecoder::Result::kFrame) {
    if (body.empty()) continue;
    if (channel::ParseBody(body, &envelope) != channel::BodyKind::kEnvelope) {
      continue;
    }
    if (envelope.has_event()) {
      const auto kind =
          channel::ParseBrokerChannel(envelope.event().channel(), &group);
      if (kind == channel::ChannelKind::kGroup &&
          group.size() + 6 != envelope.event().channel().size()) {
        std::abort();
      }
    }
  }
  return 0;
}
