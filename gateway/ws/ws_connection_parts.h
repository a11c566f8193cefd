#ifndef CHANNEL_GATEWAY_WS_WS_CONNECTION_PARTS_H_
#define CHANNEL_GATEWAY_WS_WS_CONNECTION_PARTS_H_

// WsConnection's websocketpp-typed members and the helpers its two
// websocketpp source files share (ws_connection.cc: reading, frames,
// control frames, ending; ws_connection_handshake.cc: the opening
// handshake). Included only by those two; ws_connection_write.cc, the
// write path, needs no websocketpp.
#include <memory>

#include "gateway/ws/ws_connection.h"
#include "gateway/ws/ws_parser_config.h"
#include "websocketpp/close.hpp"
#include "websocketpp/http/request.hpp"
#include "websocketpp/http/response.hpp"
#include "websocketpp/processors/hybi13.hpp"

namespace channel {

using WsProcessor = websocketpp::processor::hybi13<WsParserConfig>;
using WsMessagePtr = WsParserConfig::message_type::ptr;

// Stateless, shared by every processor of the process: the message
// manager only allocates messages, and a server never masks (no random
// numbers are drawn).
const std::shared_ptr<WsParserConfig::con_msg_manager_type>& WsMessageManager();
WsParserConfig::rng_type& WsRng();

struct WsConnection::Handshake {
  websocketpp::http::parser::request request;
};

struct WsConnection::Codec {
  explicit Codec(size_t max_message_bytes)
      : processor(false, true, WsMessageManager(), WsRng()) {
    processor.set_max_message_size(max_message_bytes);
  }
  WsProcessor processor;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_WS_WS_CONNECTION_PARTS_H_
