#ifndef CHANNEL_GATEWAY_WS_WS_TEXT_FRAME_H_
#define CHANNEL_GATEWAY_WS_WS_TEXT_FRAME_H_

#include <string>

#include "absl/strings/string_view.h"

namespace channel {

// Appends one complete, unmasked, final WebSocket text frame (RFC 6455 5.2:
// FIN + opcode 0x1, 7/16/64-bit length) carrying `payload` to *out. Server
// frames are never masked, so one encoded frame can be written to any number
// of connections; concatenated frames form one batch buffer.
void AppendTextFrame(absl::string_view payload, std::string* out);

}  // namespace channel

#endif  // CHANNEL_GATEWAY_WS_WS_TEXT_FRAME_H_
