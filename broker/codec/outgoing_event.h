#ifndef CHANNEL_BROKER_CODEC_OUTGOING_EVENT_H_
#define CHANNEL_BROKER_CODEC_OUTGOING_EVENT_H_

#include "absl/strings/string_view.h"
#include "common/framing/frame_encoder.h"
#include "proto/channel.pb.h"

namespace channel {

// One event on its way to the subscribers of one channel, who may speak
// different codecs. Each codec's frame is encoded on first use and the same
// immutable buffer is shared by every subscriber speaking it (encode once
// per codec, fan out). A new codec adds its accessor here.
//
// Borrows `envelope` (holding the Event) for its lifetime; one thread.
class OutgoingEvent {
 public:
  explicit OutgoingEvent(const v1::Envelope& envelope) : envelope_(envelope) {}

  const v1::Event& event() const { return envelope_.event(); }

  // The protobuf Envelope{event} frame.
  const SharedFrame& ProtobufFrame() {
    if (!protobuf_) protobuf_ = EncodeFrame(envelope_);
    return protobuf_;
  }

  // The Workerman Channel frame:
  // a:3:{s:4:"type";s:5:"event";s:7:"channel";s:N:"CH";s:4:"data";DATA}
  // where DATA is the payload as a PHP string, or the payload itself when
  // it is PHP serialize() text (payload_codec "php": no re-serialisation).
  const SharedFrame& PhpFrame() {
    if (!php_) php_ = EncodePhpMessage("event", event());
    return php_;
  }

  // The same shape for any PHP message type ("event", "queue").
  static SharedFrame EncodePhpMessage(absl::string_view type,
                                      const v1::Event& event);

 private:
  const v1::Envelope& envelope_;
  SharedFrame protobuf_;
  SharedFrame php_;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_CODEC_OUTGOING_EVENT_H_
