#ifndef CHANNEL_GATEWAY_WORKER_WORKER_IMPL_H_
#define CHANNEL_GATEWAY_WORKER_WORKER_IMPL_H_

// Worker's implementation, shared by its source files only (worker.cc:
// construction, the loop, transport glue, fan-out and the sweep;
// worker_connections.cc: connection lifecycle and replies;
// worker_drain.cc: the shutdown drain). Not for other includes: Worker
// is the interface.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "common/lifecycle/drain_runner.h"
#include "common/lifecycle/drain_spread.h"
#include "gateway/app/app_bridge.h"
#include "gateway/auth/admission.h"
#include "gateway/auth/authenticator.h"
#include "gateway/commands/command_dispatcher.h"
#include "gateway/fanout/fanout_batch.h"
#include "gateway/fanout/fanout_writer.h"
#include "gateway/fanout/membership.h"
#include "gateway/fanout/recoveries.h"
#include "gateway/lifecycle/heap_trimmer.h"
#include "gateway/lifecycle/liveness_sweep.h"
#include "gateway/link/shard_link.h"
#include "gateway/worker/worker.h"
#include "gateway/ws/ws_server.h"

namespace channel {

// One plain class for ws and wss: the connections are WsConnections either
// way (wss ones run TLS underneath, ws_connection.h). Every member function
// but the constructor runs on the worker thread (worker.h's thread story).
class Worker::Impl : public Authenticator::Host {
 public:
  using Clock = std::chrono::steady_clock;
  using ConnectionPtr = std::shared_ptr<WsConnection>;

  // Read through Worker (stats(), index()). Declared first: the members
  // below hold pointers to stats_ from their construction on.
  WorkerStats stats_;
  int worker_index_ = 0;

  Impl(int index, const GatewayOptions& options, const std::string& gateway_id,
       GatewayLimits* limits, const TokenVerifier* verifier,
       const TlsContext* tls);

  // Binds host:port (0: any) with SO_REUSEPORT; *bound gets the port.
  absl::Status Listen(const std::string& host, uint16_t port, uint16_t* bound) {
    return endpoint_.Listen(host, port, bound);
  }
  void Run();
  void Stop();
  void PostShutdown(std::function<void()> on_idle);

 private:
  static constexpr std::chrono::milliseconds kDrainTick{10};

  // ---- Drain (worker_drain.cc) ----------------------------------------

  // The drain's turn of connection `id` (DrainRunner paces them). A
  // connection awaiting replies from the broker is closed when the last
  // one is sent (Reply), so no command read before its close goes
  // unanswered; the shutdown grace bounds how long that may take.
  void DrainVisit(uint64_t id);
  void DrainClose(const ConnectionPtr& con);
  // Runs on_idle_ once the drain has ended and no connection is left;
  // closes connections opened during the drain once it has ended.
  void MaybeIdle();

  // ---- Transport glue (worker.cc) -------------------------------------

  // The server's events call the lifecycle below directly.
  WsServer NewEndpoint();

  // ---- Connection lifecycle and replies (worker_connections.cc) -------

  void OnFailed(WsConnection& con, absl::string_view why);
  void OnOpen(const ConnectionPtr& con);
  void OnClose(WsConnection& con);
  // Starts a close handshake and leaves every group at once; the
  // connection cuts its socket if the peer does not complete it within
  // close_timeout (WsConnection::Close).
  void Close(const ConnectionPtr& con, uint16_t code,
             const std::string& reason);
  // Open connections only: a closing one has left its groups and may be
  // sent nothing more.
  ConnectionData* Find(uint64_t conn_id) override;
  void CloseConnection(uint64_t conn_id, uint16_t code,
                       const std::string& reason) override;
  void Reply(uint64_t conn_id, const std::string& text) override;
  void OnMessage(const ConnectionPtr& con, const std::string& payload,
                 bool is_text);
  // The application's close event for `con` (once), before it leaves its
  // groups.
  void AppClose(WsConnection& con, uint16_t code, absl::string_view reason);
  ConnectInfo AppConnectInfo(WsConnection& con) const;

  // ---- Fan-out and the sweep (worker.cc) ------------------------------

  void Deliver(std::vector<Delivery>& batch);
  // After a link loss: each open connection hears which of its channels
  // may have missed messages (those not in `recovered`), if any.
  void SendGap(std::chrono::milliseconds down,
               const ShardLink::Recovered& recovered);
  void CloseSlow(WsConnection* con);
  // Tokens, presence, liveness, heap trimming: once per liveness tick.
  void ArmSweep();
  void Sweep();

  const GatewayOptions& options_;
  const TlsContext* const tls_;  // null: ws
  asio::io_context io_{1};
  ShardLink link_;
  PresenceReporter presence_;
  MemberMirror members_;
  Membership membership_;
  Recoveries recoveries_;
  Admission admission_;
  Authenticator auth_;
  AppBridge app_;
  CommandDispatcher dispatcher_;
  WsServer endpoint_{NewEndpoint()};
  asio::steady_timer sweep_;
  uint64_t next_conn_ = 1;
  int64_t json_connections_ = 0;  // open connections with ?format=json
  absl::flat_hash_map<uint64_t, ConnectionPtr> conns_;
  bool shutting_down_ = false;
  std::function<void()> on_idle_;
  DrainRunner drain_{io_};
  DrainSpread drain_spread_;  // when the drain's closes went out
  bool drain_ended_ = false;
  FanoutBatch batch_;                      // scratch, reused across deliveries
  std::vector<MemberMirror::Tell> tells_;  // scratch
  FanoutWriter writer_;
  LivenessSweep liveness_;
  HeapTrimmer trimmer_;  // wss only
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_WORKER_WORKER_IMPL_H_
