#ifndef CHANNEL_BROKER_CODEC_SESSION_CODEC_H_
#define CHANNEL_BROKER_CODEC_SESSION_CODEC_H_

#include <string>

#include "absl/strings/string_view.h"
#include "broker/codec/outgoing_event.h"
#include "common/framing/frame_encoder.h"
#include "proto/channel.pb.h"

namespace channel {

// What one broker connection speaks inside its frames. A Session picks its
// codec from the first frame body and keeps it for life; the codec turns
// bodies into Router calls and events into frames. A second wire format is a
// new SessionCodec, not edits across Session.
//
// Same thread and lifetime as its Session; it may call the Session's public
// methods (Send, Close, SetEstablished, ...) from any of these.
class SessionCodec {
 public:
  virtual ~SessionCodec() = default;

  // Short name for logs and metrics ("protobuf").
  virtual absl::string_view name() const = 0;
  // One non-empty frame body (heartbeats never reach the codec).
  virtual void OnBody(absl::string_view body) = 0;
  // The frame carrying `event` in this codec (shared by all its sessions).
  virtual const SharedFrame& EventFrame(OutgoingEvent& event) = 0;
  // The frame carrying `event` to this session as the member of queue group
  // `group` the Router chose: the shared event frame, unless the codec
  // says otherwise (a PHP watcher's work-queue item).
  virtual SharedFrame QueuedEventFrame(OutgoingEvent& event,
                                       const std::string& group) {
    (void)group;
    return EventFrame(event);
  }
  // The frame telling the peer why it is being closed; null when the codec
  // has no way to say it.
  virtual SharedFrame CloseFrame(v1::Error::Code code,
                                 absl::string_view reason) = 0;
  // The frame asking the peer to move to another broker because this one
  // drains (it closes the connection `close_in_ms` from now); null when
  // the codec has no way to ask (the session is then closed at its turn).
  virtual SharedFrame MoveFrame(uint32_t /*close_in_ms*/,
                                absl::string_view /*reason*/) {
    return nullptr;
  }
  // The peer asked for sole-interest grants (protobuf Hello).
  virtual bool wants_sole_interest() const { return false; }
  // Once per loop turn before the session's frames are written.
  virtual void BeforeFlush() {}
  // The session is closing (or closed): release what the codec holds
  // outside the Router (the Router is left by the Session). Called once.
  virtual void OnClose() {}
};

}  // namespace channel

#endif  // CHANNEL_BROKER_CODEC_SESSION_CODEC_H_
