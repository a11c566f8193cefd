#ifndef CHANNEL_GATEWAY_APP_APP_BRIDGE_H_
#define CHANNEL_GATEWAY_APP_APP_BRIDGE_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "gateway/app/app_action.h"
#include "gateway/app/app_event.h"
#include "gateway/app/held_events.h"
#include "gateway/auth/authenticator.h"
#include "gateway/commands/command.h"
#include "gateway/connection_data.h"
#include "gateway/fanout/membership.h"
#include "gateway/gateway_options.h"
#include "gateway/link/shard_link.h"
#include "gateway/worker_stats.h"

namespace channel {

// One worker's side of the application's seat (docs/PROTOCOL.md
// "Application events"): its connections' events go to the broker's
// kAppEventsChannel, keyed by client id (so that a queue group keeps one
// connection's events on one backend, in order: one link, one key), and
// the actions backends publish to this worker's node channel are carried
// out here. Requests (a custom command with an "id", a join the backend
// must allow) wait for the backend's reply action at most
// --backend_timeout_ms; every one gets exactly one answer.
//
// With events off (--events=false) nothing is published, custom commands
// stay unknown_cmd, and actions are still taken (a backend may act on
// connections without consuming their events).
//
// Same thread as its worker.
class AppBridge {
 public:
  // Replies, lookups and closes by connection id (the worker).
  using Host = Authenticator::Host;
  // The outcome of a join the backend was asked about: OK (allowed), or
  // the refusal to give the client (its code and text).
  using JoinDecision =
      std::function<void(uint64_t conn_id, bool allowed, absl::string_view code,
                         absl::string_view message)>;

  // `node`: this worker's node name (its client ids' prefix);
  // `worker_index`: the high bits of its connections' ids.
  AppBridge(asio::io_context& io, const GatewayOptions& options,
            std::string node, int worker_index, ShardLink* link,
            Membership* membership, WorkerStats* stats, Host* host);

  bool events() const { return options_.app.events; }
  const std::string& node() const { return node_; }
  // "<node>.<n>": the connection's id, unique across gateways and restarts.
  std::string ClientId(const ConnectionData* con) const;

  // Lifecycle events (no-ops with events off).
  void OnConnect(const ConnectionData* con, const ConnectInfo& info);
  void OnGroup(const ConnectionData* con, const std::string& group,
               bool joined);
  // Before the connection leaves its groups; its requests end unanswered
  // (nobody is left to answer).
  void OnClose(ConnectionData* con, uint16_t code, absl::string_view reason,
               const std::vector<std::string>& groups);

  // A custom command (events on): published as a message event; with an
  // id, the backend's reply (or no_backend, backend_timeout) is the
  // client's answer.
  void OnCustom(ConnectionData* con, const Command& command);
  // Whether joins of `group` wait for the backend (--ask_backend).
  bool MustAsk(absl::string_view group) const;
  // Asks the backend whether `con` may join `group`; `decided` runs once.
  void AskJoin(ConnectionData* con, const std::string& group,
               JoinDecision decided);

  // An action published to this worker's node channel.
  void OnAction(const std::string& payload);

  size_t pending() const { return pending_.size(); }
  // The broker link is back: the connection events held while it was
  // down go out first, in order.
  void OnLinkUp();

 private:
  // The local number of a connection id (ConnectionData::id) as the client
  // id shows it, and back.
  static constexpr uint64_t kLocalMask = (uint64_t{1} << 48) - 1;
  struct Pending {
    uint64_t conn_id = 0;
    std::string id_json;   // custom command: its id
    JoinDecision decided;  // join request: the continuation
    std::chrono::steady_clock::time_point deadline;
  };
  // Publishes one event keyed by `client`; `keep`: a connection event the
  // broker may keep when no backend takes it now (never a request, which
  // is answered no_backend); `done` as ShardLink::PublishRaw.
  void Publish(const std::string& client, const std::string& event,
               bool key_end, bool keep, BrokerClient::Done done = nullptr);
  // Publishes without holding: Unavailable when the link is down (nothing
  // sent then; `done`, optional, is not called then).
  absl::Status PublishNow(const std::string& client, const std::string& event,
                          bool key_end, bool keep,
                          std::shared_ptr<BrokerClient::Done> done);
  // Holds a connection event for the link's return, or counts it dropped
  // when the bound (--events_hold_bytes) is reached.
  void Hold(const std::string& client, const std::string& event, bool key_end);
  // A new request of `con` (bounded per connection): its number, or 0 when
  // the connection has too many waiting (answered here).
  uint64_t Begin(ConnectionData* con, Pending pending);
  // Ends request `request` with a refusal (no_backend, backend_timeout,
  // the backend's own error) or the backend's answer.
  // Removes `request` from the waiting ones into *out, with what its
  // connection counts of it; false when it is not waiting (answered,
  // timed out, closed).
  bool Take(uint64_t request, Pending* out);
  // Takes `request` off `con`'s list (at most the per-connection bound).
  static void Forget(ConnectionData* con, uint64_t request);
  void Refuse(uint64_t request, absl::string_view code,
              absl::string_view message);
  void Answer(uint64_t request, const AppAction& action);
  void ArmTimer();
  void Expire();
  // Carries out a parsed action on `con` (null: not open here); false
  // with *code/*message when it could not be done.
  bool Act(const AppAction& action, ConnectionData* con, std::string* code,
           std::string* message);
  void Result(const AppAction& action, bool ok, absl::string_view code,
              absl::string_view message, ConnectionData* con);

  const GatewayOptions& options_;
  const std::string node_;
  const uint64_t worker_bits_;
  ShardLink* const link_;
  Membership* const membership_;
  WorkerStats* const stats_;
  Host* const host_;
  const AppActionLimits action_limits_;
  asio::steady_timer timer_;
  bool timer_armed_ = false;
  uint64_t next_request_ = 1;
  absl::flat_hash_map<uint64_t, Pending> pending_;
  HeldEvents held_;
  // Requests in the order they expire (one timeout for all: FIFO).
  std::deque<std::pair<std::chrono::steady_clock::time_point, uint64_t>>
      deadlines_;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_APP_APP_BRIDGE_H_
