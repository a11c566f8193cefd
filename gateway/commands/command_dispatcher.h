#ifndef CHANNEL_GATEWAY_COMMANDS_COMMAND_DISPATCHER_H_
#define CHANNEL_GATEWAY_COMMANDS_COMMAND_DISPATCHER_H_

#include <cstdint>
#include <deque>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "gateway/app/app_bridge.h"
#include "gateway/auth/authenticator.h"
#include "gateway/commands/command.h"
#include "gateway/connection_data.h"
#include "gateway/fanout/membership.h"
#include "gateway/fanout/recoveries.h"
#include "gateway/gateway_options.h"
#include "gateway/link/shard_link.h"
#include "gateway/presence/member_mirror.h"
#include "gateway/presence/presence_reporter.h"
#include "gateway/worker_stats.h"

namespace channel {

// What one worker does with a client's message: rate limit, decode
// (docs/CLIENT-PROTOCOL.md), authentication and permissions (Authenticator,
// when tokens are on), then join / leave / publish through the worker's
// Membership and ShardLink, with replies. Knows nothing of
// websocketpp: replies go through the Replies interface, by connection id,
// because an answer from the broker may come after the connection closed.
// Same thread as its worker.
class CommandDispatcher {
 public:
  // Replies go to a connection by id, if it is still open (the worker).
  using Replies = Authenticator::Host;

  CommandDispatcher(const GatewayOptions& options, ShardLink* link,
                    Membership* membership, Recoveries* recoveries,
                    Authenticator* auth, AppBridge* app, WorkerStats* stats,
                    Replies* replies, PresenceReporter* reporter,
                    const MemberMirror* members)
      : options_(options),
        link_(link),
        membership_(membership),
        recoveries_(recoveries),
        auth_(auth),
        app_(app),
        stats_(stats),
        replies_(replies),
        reporter_(reporter),
        members_(members) {}

  enum class Verdict { kHandled, kCloseRateLimited };

  // History reads and resumes one connection may have waiting for the
  // broker; further reads are refused (rate_limited), further resumes wait
  // their turn. Each reply is cut at half of --max_queued_bytes.
  static constexpr uint16_t kMaxHistoryInFlight = 4;

  // One complete client message (text or binary). kCloseRateLimited: the
  // connection exceeded the rate limit --rate_limit_close_after times in a
  // row and must be closed (1008).
  Verdict OnMessage(ConnectionData* con, absl::string_view payload,
                    bool is_text, ConnectionData::Clock::time_point now);

  // The broker refused `channel`'s subscription (Membership's RefusedFn,
  // or a re-subscribe after a reconnect): its members on this worker leave
  // it and hear why (join_refused); a user channel's connections close
  // (1013), since they would be unreachable as that user.
  void OnChannelRefused(const std::string& channel, const absl::Status& status);

  // Sends the presence changes of groups with member lists that wait
  // (PresenceReporter's urgent ones), if the link is up.
  void FlushPresence();

  // A send without an id that the broker refused or may not have routed.
  void OnPublishFailure(uint64_t conn_id, const absl::Status& status) {
    ReportFailure(conn_id, "", "publish_failed", status);
  }

 private:
  // Wraps a reply that the broker owes `con` (its completion `fn`): counted
  // in con->awaiting_replies from now until `fn` runs, so that a drain
  // closes the connection only after it (worker/worker_drain.cc). A wrapped
  // callback that will never run must be given back with Unowe.
  template <typename Fn>
  auto Owed(ConnectionData* con, Fn fn) {
    ++con->awaiting_replies;
    return [this, conn_id = con->id, fn = std::move(fn)](auto&&... args) {
      if (ConnectionData* c = replies_->Find(conn_id);
          c != nullptr && c->awaiting_replies > 0) {
        --c->awaiting_replies;
      }
      fn(std::forward<decltype(args)>(args)...);
    };
  }
  static void Unowe(ConnectionData* con) {
    if (con->awaiting_replies > 0) --con->awaiting_replies;
  }

  // `approved`: the backend allowed it already (--ask_backend groups).
  void AddGroup(ConnectionData* con, const Command& command,
                bool approved = false);
  // A join confirmed (the reply, or the resume's read) or failed: then
  // the connection leaves the group (the leave reported to the broker's
  // presence when `report_leave`) and hears why, as `failure_code`.
  void JoinDone(uint64_t conn_id, const Command& command, bool resume,
                const absl::Status& status, absl::string_view failure_code,
                bool report_leave);
  // Tells `con` why Membership refused its join (true), if it did.
  bool TellJoinRefused(ConnectionData* con, const Command& command,
                       Membership::JoinResult result);
  // ---- presence members (command_dispatcher_presence.cc) ----
  // The join of a group with a member list (not yet a member): the
  // connection joins, its presence report goes to the broker with an id,
  // and the reply (with the list) waits for both the subscription and the
  // report; a refused report (presence_full) undoes the join.
  void AddPresenceGroup(ConnectionData* con, const Command& command,
                        bool resume);
  // The reply's "members" for a join of `group_id` by `conn_id`: the
  // worker's copy of the list with the connection's own user in it; empty
  // when the group has no member list.
  std::string MembersJson(uint64_t conn_id, const std::string& group_id);
  // ---- history (command_dispatcher_history.cc) ----
  // The join is live: {"ok":true}, with the position for a history group.
  void JoinedReply(uint64_t conn_id, const Command& command);
  // The join of a history group with since is live: reads what was missed
  // and finishes the resume when the broker answers (FinishResume).
  void ResumeJoined(uint64_t conn_id, const Command& command);
  // Sends the resume's read, or queues it when the connection has
  // kMaxHistoryInFlight reads waiting already.
  void StartResume(ConnectionData* con, const Command& command);
  // A read of `conn_id` was answered: the next queued resume goes.
  void HistoryDone(uint64_t conn_id);
  void FinishResume(uint64_t conn_id, const Command& command,
                    const absl::Status& status, v1::HistoryReply* reply);
  // Ends a resume that will not finish (the join failed, a leave); its
  // held deliveries are dropped.
  void EndResume(ConnectionData* con, const std::string& channel);
  void History(ConnectionData* con, const Command& command);
  // One delivery to one connection, in its framing.
  void SendDelivery(ConnectionData* con, const Delivery& delivery);
  void Send(ConnectionData* con, const Command& command);
  void Presence(ConnectionData* con, const Command& command);
  void ReplyError(uint64_t conn_id, const std::string& id_json,
                  absl::string_view code, absl::string_view message);
  void ReportFailure(uint64_t conn_id, const std::string& id_json,
                     absl::string_view failure_code,
                     const absl::Status& status);
  // {"ok":true} once the broker confirmed, or the error.
  ShardLink::Done ReplyWhenDone(uint64_t conn_id, std::string id_json,
                                absl::string_view failure_code);

  const GatewayOptions& options_;
  ShardLink* const link_;
  Membership* const membership_;
  Recoveries* const recoveries_;
  Authenticator* const auth_;
  AppBridge* const app_;
  WorkerStats* const stats_;
  Replies* const replies_;
  PresenceReporter* const reporter_;
  const MemberMirror* const members_;
  // Resumes waiting for a connection's reads in flight, per connection id
  // (bounded by its groups: each is a join). Dropped once it is gone.
  absl::flat_hash_map<uint64_t, std::deque<Command>> queued_resumes_;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_COMMANDS_COMMAND_DISPATCHER_H_
