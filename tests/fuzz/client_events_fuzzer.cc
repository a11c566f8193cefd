// libFuzzer target: bytes the broker sends a client. The client library's
// frame decoding and envelope classification, and the gateway's mapping of
// an Event's channel to a group, and the worker's copy of presence member
// lists (MemberMirror) fed the broker's member events.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/framing/envelope_codec.h"
#include "common/framing/frame_decoder.h"
#include "common/presence/presence_rules.h"
#include "gateway/fanout/delivery.h"
#include "gateway/presence/member_mirror.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  channel::FrameDecoder decoder(1 << 16);
  decoder.Append(reinterpret_cast<const char*>(data), size);
  channel::v1::Envelope envelope;
  absl::string_view body;
  std::string group;
  channel::MemberMirror mirror;
  std::vector<channel::MemberMirror::Tell> tells;
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
      if (kind == channel::ChannelKind::kGroup &&
          channel::IsMemberCodec(envelope.event().meta().payload_codec())) {
        mirror.OnEvent(group, envelope.event().meta(),
                       envelope.event().payload(), &tells);
        if (tells.size() > 2 * channel::PresenceRules::kMaxMembers) {
          std::abort();  // a list's differences are bounded by two lists
        }
        tells.clear();
      }
    }
  }
  return 0;
}
