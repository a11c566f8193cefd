#ifndef CHANNEL_GATEWAY_WORKER_WORKER_H_
#define CHANNEL_GATEWAY_WORKER_WORKER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "gateway/auth/token_verifier.h"
#include "gateway/gateway_options.h"
#include "gateway/worker_stats.h"

namespace channel {

class TlsContext;

// One gateway shard: a thread with its own io_context running
//  - a WebSocket endpoint on the shared port (SO_REUSEPORT: the kernel
//    spreads connections over workers; a connection stays on its worker
//    for life),
//  - its connections' group membership (Membership, the one owner),
//  - its own broker connection (ShardLink) that subscribes to exactly the
//    groups this worker has members of.
// Nothing on the data path crosses threads: a client's send is published on
// this worker's broker link and the broker's events for this worker's
// groups arrive on the same link, in the same loop.
//
// Thread story. Built, Listen()ed and destroyed on the main thread; every
// other member function of the implementation runs on the worker thread.
// The main thread talks to it only through PostShutdown and Stop, which
// post to the worker's io_context; the worker answers PostShutdown's
// on_idle on its own thread (the GatewayServer posts that back to the main
// thread). Raw pointers captured in those posts (the Worker itself) stay
// valid because the GatewayServer joins every worker thread before it
// destroys any Worker. Counters cross threads as relaxed atomics
// (WorkerStats, GatewayLimits), read by the admin endpoints.
//
// Fan-out: the deliveries of one loop turn are turned into one buffer of
// concatenated WebSocket frames per group (FanoutBatch), and the same
// buffer is handed to every local member.
//
// Connections: WsConnection (WsServer) for ws and wss alike; wss runs TLS
// under the same WebSocket code (ws_connection.h). websocketpp is used
// only as a parser, in ws_connection.cc and ws_connection_handshake.cc
// (compile cost).
class Worker {
 public:
  // `gateway_id` names the process (broker client name, origin of its
  // publishes). `limits` is shared by all workers of the process. With
  // `tls` (outlives the worker), the worker speaks wss instead of ws.
  // `verifier` (shared, immutable) checks tokens when enabled.
  Worker(int index, const GatewayOptions& options,
         const std::string& gateway_id, GatewayLimits* limits,
         const TokenVerifier* verifier, const TlsContext* tls);
  ~Worker();

  // Binds host:port (port 0: any free port) with SO_REUSEPORT; *bound gets
  // the port. Call before Run, from the thread that constructed the worker.
  absl::Status Listen(const std::string& host, uint16_t port, uint16_t* bound);

  // Starts the broker link and runs the worker's loop until Stop. The
  // thread body.
  void Run();

  // Thread-safe: each posts to the worker's thread.
  // Stops accepting and closes every connection with 1012 (reconnect
  // elsewhere), evenly over options.drain in random order, each once the
  // replies it awaits are sent; `on_idle` runs on the worker thread once
  // the drain has ended and no connection is left.
  void PostShutdown(std::function<void()> on_idle);
  // Closes the broker link and ends Run.
  void Stop();

  WorkerStats& stats();
  int index() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_WORKER_WORKER_H_
