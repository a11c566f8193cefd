#include "gateway/app/app_bridge.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/channel_names.h"
#include "common/history/history_rules.h"
#include "gateway/commands/replies.h"

namespace channel {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// {"id":ID,"ok":true[,"data":D]}: the backend's answer to a custom command.
std::string DataReply(absl::string_view id_json, absl::string_view data_json) {
  if (data_json.empty()) return OkReply(id_json);
  return absl::StrCat("{\"id\":", id_json, ",\"ok\":true,\"data\":", data_json,
                      "}");
}

}  // namespace

AppBridge::AppBridge(asio::io_context& io, const GatewayOptions& options,
                     std::string node, int worker_index, ShardLink* link,
                     Membership* membership, WorkerStats* stats, Host* host)
    : options_(options),
      node_(std::move(node)),
      worker_bits_(static_cast<uint64_t>(worker_index) << 48),
      link_(link),
      membership_(membership),
      stats_(stats),
      host_(host),
      action_limits_([&options] {
        AppActionLimits limits;
        limits.max_group_id_bytes = options.command_limits.max_group_id_bytes;
        limits.max_message_depth = options.command_limits.max_message_depth;
        return limits;
      }()),
      timer_(io),
      held_(options.app.hold_bytes) {}

std::string AppBridge::ClientId(const ConnectionData* con) const {
  return absl::StrCat(node_, ".", con->id & kLocalMask);
}

void AppBridge::Publish(const std::string& client, const std::string& event,
                        bool key_end, bool keep, BrokerClient::Done done) {
  Bump(stats_->app_events);
  // Connection events wait behind those held while the link was down: one
  // connection's events stay in order.
  if (keep && !held_.empty()) {
    Hold(client, event, key_end);
    return;
  }
  // A publish refused at once never runs its callback: `done` is shared so
  // that it is still called here then.
  auto shared = std::make_shared<BrokerClient::Done>(std::move(done));
  absl::Status s = PublishNow(client, event, key_end, keep, shared);
  if (s.ok()) return;
  if (keep && absl::IsUnavailable(s)) {
    Hold(client, event, key_end);
    return;
  }
  Bump(stats_->app_events_dropped);
  if (*shared) (*shared)(s, 0);
}

absl::Status AppBridge::PublishNow(const std::string& client,
                                   const std::string& event, bool key_end,
                                   bool keep,
                                   std::shared_ptr<BrokerClient::Done> done) {
  // Nobody consumed it (no queue group member, no subscriber) or it could
  // not be published: counted as dropped (or kept, when the broker keeps
  // what is marked so), and the caller hears it.
  return link_->PublishRaw(
      kAppEventsChannel, event, client, key_end, keep,
      [stats = stats_, link = link_, keep, done = std::move(done)](
          const absl::Status& status, uint64_t receivers) {
        if (status.ok() && receivers == 0 && keep && link->keeps_events()) {
          Bump(stats->app_events_kept);
        } else if (!status.ok() || receivers == 0) {
          Bump(stats->app_events_dropped);
        }
        if (done != nullptr && *done) (*done)(status, receivers);
      });
}

void AppBridge::Hold(const std::string& client, const std::string& event,
                     bool key_end) {
  if (held_.Hold({client, event, key_end})) {
    Bump(stats_->app_events_held);
  } else {
    Bump(stats_->app_events_dropped);
  }
}

void AppBridge::OnLinkUp() {
  while (!held_.empty()) {
    const HeldEvents::Event& e = held_.front();
    const absl::Status s =
        PublishNow(e.client, e.json, e.key_end, /*keep=*/true, nullptr);
    if (absl::IsUnavailable(s)) return;  // down again: wait for the next up
    if (!s.ok()) Bump(stats_->app_events_dropped);
    held_.pop_front();
  }
}

void AppBridge::OnConnect(const ConnectionData* con, const ConnectInfo& info) {
  if (!events()) return;
  const std::string client = ClientId(con);
  Publish(client, ConnectEvent({client, con->user_id, NowMs()}, info),
          /*key_end=*/false, /*keep=*/true);
}

void AppBridge::OnGroup(const ConnectionData* con, const std::string& group,
                        bool joined) {
  if (!events()) return;
  const std::string client = ClientId(con);
  Publish(client, GroupEvent({client, con->user_id, NowMs()}, joined, group),
          /*key_end=*/false, /*keep=*/true);
}

void AppBridge::OnClose(ConnectionData* con, uint16_t code,
                        absl::string_view reason,
                        const std::vector<std::string>& groups) {
  // Its requests end here: nobody is left to answer.
  for (uint64_t request : con->app_requests) pending_.erase(request);
  con->app_requests.clear();
  if (!events()) return;
  const std::string client = ClientId(con);
  Publish(client,
          CloseEvent({client, con->user_id, NowMs()}, code, reason, groups),
          /*key_end=*/true, /*keep=*/true);
}

void AppBridge::Forget(ConnectionData* con, uint64_t request) {
  auto& list = con->app_requests;
  list.erase(std::remove(list.begin(), list.end(), request), list.end());
}

uint64_t AppBridge::Begin(ConnectionData* con, Pending pending) {
  if (con->app_requests.size() >= options_.app.max_pending_per_connection) {
    return 0;
  }
  // A custom command's answer is owed like a broker's: a drain closes the
  // connection only once it is sent (a join's continuation counts itself).
  if (!pending.decided) ++con->awaiting_replies;
  const uint64_t request = next_request_++;
  con->app_requests.push_back(request);
  pending.conn_id = con->id;
  pending.deadline =
      std::chrono::steady_clock::now() + options_.app.backend_timeout;
  deadlines_.emplace_back(pending.deadline, request);
  pending_.emplace(request, std::move(pending));
  ArmTimer();
  return request;
}

void AppBridge::OnCustom(ConnectionData* con, const Command& command) {
  const std::string client = ClientId(con);
  const EventBase base{client, con->user_id, NowMs()};
  if (command.id_json.empty()) {
    // No answer is expected, but a command nobody receives is told.
    Publish(
        client, MessageEvent(base, 0, command.message), false, false,
        [this, conn_id = con->id](const absl::Status& s, uint64_t n) {
          if (!s.ok() || n == 0) {
            stats_->CountError(s.ok() ? "no_backend" : "broker_unavailable");
            host_->Reply(
                conn_id,
                ErrorReply("", s.ok() ? "no_backend" : "broker_unavailable",
                           s.ok() ? "no application backend "
                                    "consumes events"
                                  : s.message()));
          }
        });
    return;
  }
  Pending pending;
  pending.id_json = command.id_json;
  const uint64_t request = Begin(con, std::move(pending));
  if (request == 0) {
    stats_->CountError("rate_limited");
    host_->Reply(
        con->id,
        ErrorReply(
            command.id_json, "rate_limited",
            absl::StrCat("more than ", options_.app.max_pending_per_connection,
                         " commands of this connection await "
                         "the backend")));
    return;
  }
  Publish(client, MessageEvent(base, request, command.message), false, false,
          [this, request](const absl::Status& s, uint64_t receivers) {
            if (!s.ok()) {
              Refuse(request, "broker_unavailable",
                     absl::StrCat("the command could not reach the backend: ",
                                  s.message()));
            } else if (receivers == 0) {
              Refuse(request, "no_backend",
                     "no application backend consumes events");
            }
          });
}

bool AppBridge::MustAsk(absl::string_view group) const {
  for (const std::string& pattern : options_.app.ask_backend) {
    if (GlobMatch(pattern, group)) return true;
  }
  return false;
}

void AppBridge::AskJoin(ConnectionData* con, const std::string& group,
                        JoinDecision decided) {
  if (!events()) {
    decided(con->id, false, "no_backend",
            "this group's joins are decided by the application, and events "
            "are off (--events)");
    return;
  }
  const uint64_t conn_id = con->id;
  Pending pending;
  pending.decided = decided;
  const uint64_t request = Begin(con, std::move(pending));
  if (request == 0) {
    decided(conn_id, false, "rate_limited",
            absl::StrCat("more than ", options_.app.max_pending_per_connection,
                         " requests of this connection await the backend"));
    return;
  }
  const std::string client = ClientId(con);
  Publish(
      client, JoinRequestEvent({client, con->user_id, NowMs()}, request, group),
      false, false, [this, request](const absl::Status& s, uint64_t receivers) {
        if (!s.ok()) {
          Refuse(request, "broker_unavailable", s.message());
        } else if (receivers == 0) {
          Refuse(request, "no_backend",
                 "no application backend consumes events to decide this "
                 "join");
        }
      });
}

bool AppBridge::Take(uint64_t request, Pending* out) {
  auto it = pending_.find(request);
  if (it == pending_.end()) return false;  // answered already
  *out = std::move(it->second);
  pending_.erase(it);
  ConnectionData* con = host_->Find(out->conn_id);
  if (con == nullptr) return true;
  Forget(con, request);
  if (!out->decided && con->awaiting_replies > 0) --con->awaiting_replies;
  return true;
}

void AppBridge::Refuse(uint64_t request, absl::string_view code,
                       absl::string_view message) {
  Pending p;
  if (!Take(request, &p)) return;
  if (p.decided) {
    p.decided(p.conn_id, false, code, message);  // the join's reply counts
    return;
  }
  stats_->CountError(code);
  host_->Reply(p.conn_id, ErrorReply(p.id_json, code, message));
}

void AppBridge::Answer(uint64_t request, const AppAction& action) {
  if (!action.error_code.empty()) {
    Refuse(
        request, action.error_code,
        action.message.empty() ? "refused by the application" : action.message);
    return;
  }
  Pending p;
  if (!Take(request, &p)) return;
  if (p.decided) {
    p.decided(p.conn_id, true, "", "");
    return;
  }
  host_->Reply(p.conn_id, DataReply(p.id_json, action.data_json));
}

void AppBridge::ArmTimer() {
  if (timer_armed_ || deadlines_.empty()) return;
  timer_armed_ = true;
  timer_.expires_at(deadlines_.front().first);
  timer_.async_wait([this](const std::error_code& ec) {
    timer_armed_ = false;
    if (!ec) Expire();
  });
}

void AppBridge::Expire() {
  const auto now = std::chrono::steady_clock::now();
  while (!deadlines_.empty() && deadlines_.front().first <= now) {
    const uint64_t request = deadlines_.front().second;
    deadlines_.pop_front();
    if (!pending_.contains(request)) continue;
    Bump(stats_->app_timeouts);
    Refuse(request, "backend_timeout",
           absl::StrCat("the application did not answer within ",
                        options_.app.backend_timeout.count(), " ms"));
  }
  ArmTimer();
}

}  // namespace channel
