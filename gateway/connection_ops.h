#ifndef CHANNEL_GATEWAY_CONNECTION_OPS_H_
#define CHANNEL_GATEWAY_CONNECTION_OPS_H_

// What the worker's transport-independent code (WorkerImpl, FanoutWriter,
// LivenessSweep) does to a connection, for both kinds it runs: the
// gateway's own plain-TCP WsConnection, and websocketpp's connection for
// TLS. Included only by worker.cc (the websocketpp translation unit).
#include <cstdint>
#include <memory>
#include <string>

#include "gateway/worker_config.h"
#include "gateway/ws_connection.h"

namespace channel {

template <typename Config>
using WsppConnection = websocketpp::connection<Config>;

// ---- websocketpp (wss) ----------------------------------------------------

template <typename Config>
std::shared_ptr<WsppConnection<Config>> SharedOf(WsppConnection<Config>& con) {
  return con.get_shared();
}
template <typename Config>
bool IsOpen(const WsppConnection<Config>& con) {
  return con.get_state() == websocketpp::session::state::open;
}
template <typename Config>
size_t BufferedAmount(const WsppConnection<Config>& con) {
  return con.get_buffered_amount();
}
template <typename Config>
void SendPing(WsppConnection<Config>& con) {
  std::error_code ec;
  con.ping("", ec);
}
// Drops the socket: websocketpp's pending read fails and the connection
// ends (close handler).
template <typename Config>
void CutSocket(WsppConnection<Config>& con) {
  std::error_code ec;
  con.get_raw_socket().close(ec);
}
template <typename Config>
void StartClose(WsppConnection<Config>& con, uint16_t code,
                const std::string& reason) {
  std::error_code ec;
  con.close(static_cast<websocketpp::close::status::value>(code), reason, ec);
}
template <typename Config>
bool SendText(WsppConnection<Config>& con, const std::string& text) {
  return !con.send(text, websocketpp::frame::opcode::text);
}
template <typename Config>
std::string Resource(const WsppConnection<Config>& con) {
  return con.get_resource();
}
template <typename Config>
std::string RemoteEndpoint(const WsppConnection<Config>& con) {
  return con.get_remote_endpoint();
}
template <typename Config>
uint16_t LocalCloseCode(const WsppConnection<Config>& con) {
  return con.get_local_close_code();
}
template <typename Config>
uint16_t RemoteCloseCode(const WsppConnection<Config>& con) {
  return con.get_remote_close_code();
}

// ---- WsConnection (ws) ----------------------------------------------------

inline std::shared_ptr<WsConnection> SharedOf(WsConnection& con) {
  return con.shared_from_this();
}
inline bool IsOpen(const WsConnection& con) { return con.is_open(); }
inline size_t BufferedAmount(const WsConnection& con) {
  return con.buffered_amount();
}
inline void SendPing(WsConnection& con) { con.Ping(); }
inline void CutSocket(WsConnection& con) { con.Cut("close timed out"); }
inline void StartClose(WsConnection& con, uint16_t code,
                       const std::string& reason) {
  con.Close(code, reason);
}
inline bool SendText(WsConnection& con, const std::string& text) {
  return con.SendText(text);
}
inline std::string Resource(const WsConnection& con) {
  return std::string(con.resource());
}
inline std::string RemoteEndpoint(const WsConnection& con) {
  return con.remote_endpoint();
}
inline uint16_t LocalCloseCode(const WsConnection& con) {
  return con.local_close_code();
}
inline uint16_t RemoteCloseCode(const WsConnection& con) {
  return con.remote_close_code();
}

}  // namespace channel

#endif  // CHANNEL_GATEWAY_CONNECTION_OPS_H_
