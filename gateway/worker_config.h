#ifndef CHANNEL_GATEWAY_WORKER_CONFIG_H_
#define CHANNEL_GATEWAY_WORKER_CONFIG_H_

// websocketpp configuration of a gateway worker: TlsConfig for wss
// connections, PlainConfig for the frame processor and message types of the
// gateway's own ws connection (ws_connection.cc). Included only by
// worker.cc, ws_connection.cc and the worker's headers: every translation
// unit that instantiates websocketpp's server costs ~15 s of compile time.
#include <websocketpp/concurrency/none.hpp>
#include <websocketpp/config/asio.hpp>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include "gateway/connection_data.h"

namespace channel {

// websocketpp over Asio for one thread: no locks, no strands. `Base` is
// websocketpp's asio (plain TCP) or asio_tls config; `Socket` its socket
// policy. Per-connection state lives in the connection (ConnectionData).
template <typename Base, typename Socket>
struct WorkerConfigT : public Base {
  typedef WorkerConfigT type;
  typedef Base base;
  typedef websocketpp::concurrency::none concurrency_type;
  typedef websocketpp::log::basic<concurrency_type, websocketpp::log::elevel>
      elog_type;
  typedef websocketpp::log::basic<concurrency_type, websocketpp::log::alevel>
      alog_type;
  struct transport_config : public Base::transport_config {
    typedef typename type::concurrency_type concurrency_type;
    typedef typename type::alog_type alog_type;
    typedef typename type::elog_type elog_type;
    typedef Socket socket_type;
    static bool const enable_multithreading = false;
  };
  typedef websocketpp::transport::asio::endpoint<transport_config>
      transport_type;
  typedef ConnectionData connection_base;
  static bool const enable_multithreading = false;
  static const long timeout_open_handshake = 5000;
  static const long timeout_close_handshake = 3000;
  // Per-connection read buffer inside each websocketpp connection object
  // (wss only; websocketpp's default is 16 KiB). Clients send small
  // commands: 1 KiB holds about eight per read. With 2 KiB an idle
  // connection cost 0.8 KiB more (tools/bench/gateway-bench.sh, 10,000
  // connections); the price is in bursts from one client, read in more,
  // smaller pieces. (ws connections read into their thread's one buffer.)
  static const size_t connection_read_buffer_size = 1024;
};

using PlainConfig =
    WorkerConfigT<websocketpp::config::asio,
                  websocketpp::transport::asio::basic_socket::endpoint>;
using TlsConfig =
    WorkerConfigT<websocketpp::config::asio_tls,
                  websocketpp::transport::asio::tls_socket::endpoint>;

}  // namespace channel

#endif  // CHANNEL_GATEWAY_WORKER_CONFIG_H_
