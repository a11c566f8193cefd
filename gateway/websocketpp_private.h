#ifndef CHANNEL_GATEWAY_WEBSOCKETPP_PRIVATE_H_
#define CHANNEL_GATEWAY_WEBSOCKETPP_PRIVATE_H_

// websocketpp 0.8.2 keeps some connection state private that the gateway
// needs: the handshake's request, response and raw response (released
// after the handshake, ReleaseHandshake below; wss connections only, ws
// ones are the gateway's own WsConnection). They are reached
// through the explicit-instantiation rule (access checking does not apply
// to the template arguments of an explicit instantiation,
// [temp.spec]/6): a pointer-to-member captured once per member and config.
// Included only by worker.cc (the websocketpp translation unit).
#include <string>

#include "gateway/worker_config.h"

namespace channel {

template <typename Tag, typename Tag::type Member>
struct PrivateMember {
  friend typename Tag::type Get(Tag) { return Member; }
};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-template-friend"
// Tag<Config>::type is a pointer to the member; Get(Tag<Config>{}) returns
// it once the instantiation below exists.
#define CHANNEL_WSPP_PRIVATE(TAG, MEMBER, TYPE)  \
  template <typename Config>                     \
  struct TAG {                                   \
    using Con = websocketpp::connection<Config>; \
    using type = TYPE Con::*;                    \
    friend type Get(TAG);                        \
  };                                             \
  template struct PrivateMember<TAG<TlsConfig>, &TAG<TlsConfig>::Con::MEMBER>;

CHANNEL_WSPP_PRIVATE(RequestOf, m_request, typename Con::request_type)
CHANNEL_WSPP_PRIVATE(ResponseOf, m_response, typename Con::response_type)
CHANNEL_WSPP_PRIVATE(HandshakeBufferOf, m_handshake_buffer, std::string)
#undef CHANNEL_WSPP_PRIVATE
#pragma GCC diagnostic pop

// Frees what the opening handshake left in an open connection: the parsed
// request and response (header maps, body) and the raw response bytes,
// ~1.5 KiB per connection that websocketpp keeps for the connection's life.
// Call from the open handler, after the last read of the request
// (resource, origin, headers); nothing of websocketpp reads them later
// except its access log of a close, which the gateway disables.
template <typename Config>
void ReleaseHandshake(websocketpp::connection<Config>& con) {
  using Con = websocketpp::connection<Config>;
  con.*Get(RequestOf<Config>{}) = typename Con::request_type();
  con.*Get(ResponseOf<Config>{}) = typename Con::response_type();
  std::string().swap(con.*Get(HandshakeBufferOf<Config>{}));
}

}  // namespace channel

#endif  // CHANNEL_GATEWAY_WEBSOCKETPP_PRIVATE_H_
