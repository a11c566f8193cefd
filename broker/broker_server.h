#ifndef CHANNEL_BROKER_BROKER_SERVER_H_
#define CHANNEL_BROKER_BROKER_SERVER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/steady_timer.hpp"
#include "broker/broker_options.h"
#include "broker/broker_stats.h"
#include "broker/cluster_presence.h"
#include "broker/nats_link.h"
#include "broker/network_list.h"
#include "broker/php_bridge.h"
#include "broker/presence_table.h"
#include "broker/router.h"
#include "broker/work_queues.h"
#include "common/php_serialize.h"
#include "net/framed_stream.h"

namespace channel {

class ApiServer;
class Session;

// The broker: accepts connections on one io_context (one thread, like Redis:
// no locks anywhere), owns the sessions, the router and the counters, and
// batches writes: frames queued during one pass of the event loop go out in
// one gathered write per session at the end of the pass.
class BrokerServer : public FramedStream::FlushScheduler {
 public:
  BrokerServer(asio::io_context& io, BrokerOptions options);
  ~BrokerServer() override;

  // Checks the options (InvalidArgument for a bad --php_allow_from), binds
  // options.listen_host:options.port and starts accepting.
  absl::Status Listen();
  uint16_t port() const { return port_; }

  // Graceful stop: stop accepting, send every session SHUTTING_DOWN after its
  // queued frames, call on_drained once all are closed.
  void Shutdown(std::function<void()> on_drained);

  // The HTTP API's publish (on this thread): each channel validated like a
  // Publish; group channels are also bridged to PHP subscribers.
  // *deliveries: events queued to subscribers.
  absl::Status PublishFromApi(const std::vector<std::string>& channels,
                              const std::string& message, uint64_t* deliveries);
  // A client said Hello resuming from another broker's id (it held
  // subscriptions on an earlier link): if this broker is standalone and
  // young (30 s, or six graces), it restarted under its clients, and
  // publishes are refused for --resubscribe_grace_ms from now.
  void NoteResumingClient();
  // BACKPRESSURE (Aborted) while that grace runs: subscribers still
  // re-linking could not yet re-subscribe, so no publish may be
  // acknowledged; OK otherwise.
  absl::Status RestartGrace();

  // False while a cluster broker (--nats) cannot reach NATS: new
  // connections are then turned away with CLUSTER_UNAVAILABLE.
  bool ClusterReady() const { return nats_ == nullptr || nats_->up(); }

  // The API server whose metrics /metrics includes (may be null).
  void set_api(const ApiServer* api) { api_ = api; }

  // Admin endpoints.
  std::string RenderMetrics() const;
  std::string NotReadyReason() const;

  // For sessions.
  const BrokerOptions& options() const { return options_; }
  const std::string& broker_id() const { return broker_id_; }
  BrokerStats& stats() { return stats_; }
  Router& router() { return router_; }
  WorkQueues& work_queues() { return work_queues_; }
  PresenceTable& presence() { return presence_; }
  // A client connection's presence report, and its going away: applied to
  // the table and, in a cluster, shared with the other brokers.
  absl::Status ApplyPresence(const Session* reporter,
                             const v1::Presence& report);
  void PresenceGone(const Session* reporter);
  const PhpLimits& php_limits() const { return php_limits_; }
  // Whether a PHP client (no token in its protocol) may connect from
  // `address`: listed in --php_allow_from, or any source when neither that
  // nor --auth_token is set.
  bool PhpAllowedFrom(const asio::ip::address& address) const;
  // Whether a connection from `address` gets the small frame bound before
  // its Hello: with --auth_token, unless the source may speak PHP.
  bool LimitFramesBeforeHello(const asio::ip::address& address) const;
  // The session said its Hello (or its first PHP frame): no longer counted
  // among the pending handshakes.
  void SessionEstablished(uint64_t id) { pending_.erase(id); }
  // Queues `stream` for the end-of-pass flush (one post per pass for all).
  void ScheduleFlush(std::shared_ptr<FramedStream> stream) override;
  // The session has left the Router and closed its socket; it is destroyed
  // on a later loop turn (it may be calling this from its own callback).
  void OnSessionFinished(uint64_t id);

 private:
  void DoAccept();
  void FlushAll();
  void MaybeDrained();
  void OnClusterState(bool up, const std::string& reason);
  void ArmPresenceTick();
  // Standalone with sole interest: closes holders late to release (1 s).
  void ArmSoleTick();

  asio::io_context& io_;
  const BrokerOptions options_;
  const std::string broker_id_;
  asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  BrokerStats stats_;
  const PhpLimits php_limits_;  // before php_bridge_, which copies it
  Router router_;
  WorkQueues work_queues_;
  PhpBridge php_bridge_;
  PresenceTable presence_;
  const ApiServer* api_ = nullptr;
  std::unique_ptr<NatsLink> nats_;                     // cluster mode only
  std::unique_ptr<ClusterPresence> cluster_presence_;  // cluster mode only
  asio::steady_timer presence_tick_;
  asio::steady_timer sole_tick_;
  NetworkList php_allow_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<Session>> sessions_;
  // Sessions that have not said their Hello yet, oldest (lowest id) first.
  std::map<uint64_t, Session*> pending_;
  uint64_t next_session_id_ = 1;
  std::vector<std::shared_ptr<Session>> retired_;
  std::vector<std::shared_ptr<FramedStream>> flush_list_;
  std::vector<std::shared_ptr<FramedStream>> flushing_;
  bool shutting_down_ = false;
  std::function<void()> on_drained_;
  const std::chrono::steady_clock::time_point started_ =
      std::chrono::steady_clock::now();
  // The restart grace: not yet decided, running until grace_until_, or over
  // (ran, or the broker was too old when the first client resumed).
  enum class Grace { kNotYet, kActive, kOver };
  Grace grace_ = Grace::kNotYet;
  std::chrono::steady_clock::time_point grace_until_;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_BROKER_SERVER_H_
