#ifndef CHANNEL_GATEWAY_WS_WS_PARSER_CONFIG_H_
#define CHANNEL_GATEWAY_WS_WS_PARSER_CONFIG_H_

// websocketpp's configuration of the gateway's WebSocket parsers: its HTTP
// request parser (the opening handshake) and its hybi13 frame processor,
// used by WsConnection. No websocketpp transport, endpoint or connection is
// instantiated in the gateway: included only by ws_connection_parts.h
// (ws_connection.cc, ws_connection_handshake.cc: the gateway's only
// websocketpp translation units, for compile time).
#include <websocketpp/config/core.hpp>

namespace channel {

// websocketpp's core configuration (no Asio). Its random generator draws
// nothing: a server never masks.
struct WsParserConfig : public websocketpp::config::core {
  typedef WsParserConfig type;
  typedef websocketpp::config::core base;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_WS_WS_PARSER_CONFIG_H_
