#ifndef CHANNEL_GATEWAY_WORKER_CONFIG_H_
#define CHANNEL_GATEWAY_WORKER_CONFIG_H_

// websocketpp configuration of a gateway worker. Included only by
// worker.cc: every translation unit that instantiates websocketpp costs
// ~15 s of compile time.
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
  // Per-connection read buffer, inside each connection object (websocketpp
  // default 16 KiB). Clients send small commands: 2 KiB holds dozens per
  // read, and an idle connection costs ~2 KiB less (8.4 instead of 10.6
  // KiB with 3 groups, tools/bench/scale-bench.sh). A burst from one client
  // then arrives in many small reads; ShardLink's flush waits for the
  // reads already possible, so it still makes one batch.
  static const size_t connection_read_buffer_size = 2048;
};

using PlainConfig =
    WorkerConfigT<websocketpp::config::asio,
                  websocketpp::transport::asio::basic_socket::endpoint>;
using TlsConfig =
    WorkerConfigT<websocketpp::config::asio_tls,
                  websocketpp::transport::asio::tls_socket::endpoint>;

}  // namespace channel

#endif  // CHANNEL_GATEWAY_WORKER_CONFIG_H_
