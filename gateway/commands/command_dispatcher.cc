#include "gateway/commands/command_dispatcher.h"

#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/logging/log_limiter.h"
#include "common/logging/logging.h"
#include "gateway/commands/command_error.h"
#include "gateway/commands/replies.h"

namespace channel {

CommandDispatcher::Verdict CommandDispatcher::OnMessage(
    ConnectionData* con, absl::string_view payload, bool is_text,
    ConnectionData::Clock::time_point now) {
  con->last_seen = now;
  Bump(stats_->messages_received);
  Bump(stats_->bytes_in, payload.size());
  // Messages, then their bytes: what one connection can make its worker
  // parse is bounded per second, not just its message count.
  const bool count_ok = con->bucket.TryTake(now);
  const bool bytes_ok =
      count_ok &&
      con->byte_bucket.TryTake(now, static_cast<double>(payload.size()));
  if (!bytes_ok) {
    if (++con->refused_in_row > options_.rate_limit_close_after) {
      Bump(stats_->rate_limit_closes);
      return Verdict::kCloseRateLimited;
    }
    ReplyError(
        con->id, "", "rate_limited",
        count_ok ? absl::StrCat("more than ", options_.rate_limit_bytes_per_sec,
                                " bytes of messages per second; this one was "
                                "dropped")
                 : absl::StrCat("more than ", options_.rate_limit_per_sec,
                                " messages per second; this one was dropped"));
    return Verdict::kHandled;
  }
  con->refused_in_row = 0;
  if (!is_text) {
    ReplyError(con->id, "", "binary_not_supported",
               "binary frames are not supported; send JSON text frames");
    return Verdict::kHandled;
  }
  absl::StatusOr<Command> parsed =
      ParseCommand(payload, options_.command_limits);
  if (!parsed.ok()) {
    ReplyError(con->id, CommandErrorId(parsed.status()),
               CommandErrorCode(parsed.status()), parsed.status().message());
    return Verdict::kHandled;
  }
  const Command& command = *parsed;
  if (command.type == Command::Type::kAuth) {
    auth_->OnAuth(con, command);
    return Verdict::kHandled;
  }
  if (!auth_->CheckAuthenticated(con, command)) return Verdict::kHandled;
  switch (command.type) {
    case Command::Type::kAuth:
      break;
    case Command::Type::kAddGroup:
      AddGroup(con, command);
      break;
    case Command::Type::kLeaveGroup:
      // Effective at once: nothing more of the group reaches it.
      membership_->Leave(con, command.group_id);
      auth_->OnLeave(con, command.group_id);
      EndResume(con, GroupChannel(command.group_id));
      if (!command.id_json.empty()) {
        replies_->Reply(con->id, OkReply(command.id_json));
      }
      break;
    case Command::Type::kSendToGroup:
    case Command::Type::kSendToAll:
      Send(con, command);
      break;
    case Command::Type::kHistory:
      History(con, command);
      break;
    case Command::Type::kPresence:
      Presence(con, command);
      break;
    case Command::Type::kWhoami:
      replies_->Reply(con->id,
                      WhoamiReply(command.id_json, app_->ClientId(con)));
      break;
    case Command::Type::kCustom:
      if (!link_->up()) {
        ReplyError(con->id, command.id_json, "broker_unavailable",
                   "the gateway has no broker link; the command did not "
                   "reach the application");
        break;
      }
      app_->OnCustom(con, command);
      break;
  }
  return Verdict::kHandled;
}

void CommandDispatcher::AddGroup(ConnectionData* con, const Command& command,
                                 bool approved) {
  if (!link_->up()) {
    ReplyError(con->id, command.id_json, "broker_unavailable",
               "the gateway has no broker link; nothing was joined; retry "
               "later");
    return;
  }
  if (!approved && !auth_->MayJoin(con, command)) return;
  if (!approved && app_->MustAsk(command.group_id) &&
      !membership_->IsMember(con, command.group_id)) {
    // The backend decides (join_request); the join goes on once it allows.
    app_->AskJoin(
        con, command.group_id,
        Owed(con, [this, command](uint64_t conn_id, bool allowed,
                                  absl::string_view code,
                                  absl::string_view message) {
          ConnectionData* c = replies_->Find(conn_id);
          if (c == nullptr) return;
          if (allowed) {
            AddGroup(c, command, /*approved=*/true);
            return;
          }
          ReplyError(
              conn_id, command.id_json,
              code == "no_backend" || code == "backend_timeout" ||
                      code == "rate_limited"
                  ? code
                  : "join_refused",
              absl::StrCat("add_group \"", command.group_id, "\": ", message));
        }));
    return;
  }
  const std::string channel = GroupChannel(command.group_id);
  // A history group joined with since: its live deliveries are held from
  // now until what was missed is read and sent (ResumeJoined).
  const bool resume = command.has_since && link_->HasOffsets(channel);
  if (link_->presence_rules().ForGroup(command.group_id) != nullptr &&
      !membership_->IsMember(con, command.group_id)) {
    AddPresenceGroup(con, command, resume);
    return;
  }
  ShardLink::Done live;
  if (!command.id_json.empty() || resume) {
    // On failure the connection is not a member ("nothing was joined"):
    // it must not receive what others of the group receive. A refusal of
    // the group's subscription also reaches members that joined without an
    // id (OnChannelRefused).
    live = Owed(con, [this, conn_id = con->id, command,
                      resume](const absl::Status& status) {
      JoinDone(conn_id, command, resume, status, "join_refused",
               /*report_leave=*/true);
    });
  }
  if (resume) recoveries_->Begin(con, channel);
  const bool owed = live != nullptr;
  const Membership::JoinResult joined =
      membership_->Join(con, command.group_id, std::move(live));
  if (joined != Membership::JoinResult::kJoined &&
      joined != Membership::JoinResult::kAlreadyMember) {
    if (owed) Unowe(con);  // refused before the broker: `live` never runs
    if (resume) EndResume(con, channel);
  }
  TellJoinRefused(con, command, joined);
}

void CommandDispatcher::JoinDone(uint64_t conn_id, const Command& command,
                                 bool resume, const absl::Status& status,
                                 absl::string_view failure_code,
                                 bool report_leave) {
  if (status.ok()) {
    if (resume) {
      ResumeJoined(conn_id, command);
    } else {
      JoinedReply(conn_id, command);
    }
    return;
  }
  if (ConnectionData* c = replies_->Find(conn_id); c != nullptr) {
    if (resume) EndResume(c, GroupChannel(command.group_id));
    if (membership_->Leave(c, command.group_id, report_leave)) {
      auth_->OnLeave(c, command.group_id);
    }
  }
  ReportFailure(conn_id, command.id_json, failure_code, status);
}

bool CommandDispatcher::TellJoinRefused(ConnectionData* con,
                                        const Command& command,
                                        Membership::JoinResult result) {
  switch (result) {
    case Membership::JoinResult::kJoined:
    case Membership::JoinResult::kAlreadyMember:
      return false;
    case Membership::JoinResult::kTooManyGroups:
      ReplyError(con->id, command.id_json, "too_many_groups",
                 absl::StrCat("a connection may join at most ",
                              options_.max_groups_per_connection, " groups"));
      return true;
    case Membership::JoinResult::kWorkerFull:
      ReplyError(con->id, command.id_json, "gateway_full",
                 absl::StrCat("this gateway worker holds its limit of ",
                              options_.max_groups_per_worker,
                              " distinct groups (--max_groups_per_worker); "
                              "nothing was joined; try another gateway or "
                              "later"));
      return true;
  }
  return false;
}

void CommandDispatcher::OnChannelRefused(const std::string& channel,
                                         const absl::Status& status) {
  const Membership::Members* members = membership_->Find(channel);
  if (members == nullptr) return;
  const std::vector<ConnectionData*> all(members->begin(), members->end());
  std::string id;
  const ChannelKind kind = ParseBrokerChannel(channel, &id);
  CHANNEL_LOG_LIMITED(
      spdlog::level::err,
      "the broker refused channel '{}' ({} local member(s)): {}",
      absl::CHexEscape(channel.substr(0, 64)), all.size(), status.message());
  for (ConnectionData* con : all) {
    if (kind == ChannelKind::kGroup) {
      if (membership_->Leave(con, id)) auth_->OnLeave(con, id);
      ReplyError(con->id, "", "join_refused",
                 absl::StrCat("add_group \"", id,
                              "\": the broker refused the group's "
                              "subscription, so you are not a member: ",
                              status.message()));
    } else {
      // A user channel that does not reach its connections: they must not
      // look reachable. Reconnecting subscribes it again.
      replies_->CloseConnection(con->id, 1013,
                                "the user's broker channel could not be "
                                "subscribed; reconnect later");
    }
  }
}

// Publishes on the worker's broker link. With an id the broker acknowledges
// the message and the client gets {"ok":true}; without one the publish is
// confirmed cumulatively, and a failure is still reported
// (OnPublishFailure): never lost silently.
void CommandDispatcher::Send(ConnectionData* con, const Command& command) {
  if (!link_->up()) {
    ReplyError(con->id, command.id_json, "broker_unavailable",
               "the gateway has no broker link; the message was not sent");
    return;
  }
  const bool joined = auth_->required() &&
                      command.type == Command::Type::kSendToGroup &&
                      membership_->IsMember(con, command.group_id);
  if (!auth_->MaySend(con, command, joined)) return;
  ShardLink::Done done;
  if (!command.id_json.empty()) {
    done = Owed(con, ReplyWhenDone(con->id, command.id_json, "publish_failed"));
  }
  const bool to_all = command.type == Command::Type::kSendToAll;
  absl::Status s = link_->Publish(
      to_all ? nullptr : &command.group_id, command.message, con->id,
      command.exclude_self, con->user_id, std::move(done));
  if (!s.ok()) {
    if (!command.id_json.empty()) Unowe(con);  // `done` never runs
    ReplyError(con->id, command.id_json,
               absl::IsUnavailable(s) ? "broker_unavailable" : "publish_failed",
               s.message());
    return;
  }
  Bump(stats_->messages_published);
}

// Members of a group over every gateway, as the broker's presence table
// has them (gateways report within a second).
void CommandDispatcher::Presence(ConnectionData* con, const Command& command) {
  const bool joined =
      auth_->required() && membership_->IsMember(con, command.group_id);
  if (!auth_->MayQueryPresence(con, command, joined)) return;
  if (!link_->up()) {
    ReplyError(con->id, command.id_json, "broker_unavailable",
               "the gateway has no broker link; retry later");
    return;
  }
  link_->QueryPresence(
      command.group_id,
      Owed(con,
           [this, conn_id = con->id, id_json = command.id_json,
            group = command.group_id](const absl::Status& status,
                                      uint64_t connections, uint64_t users) {
             if (!status.ok()) {
               ReportFailure(conn_id, id_json, "broker_unavailable", status);
               return;
             }
             replies_->Reply(conn_id,
                             PresenceReply(id_json, group, connections, users));
           }));
}

void CommandDispatcher::ReplyError(uint64_t conn_id, const std::string& id_json,
                                   absl::string_view code,
                                   absl::string_view message) {
  stats_->CountError(code);
  replies_->Reply(conn_id, ErrorReply(id_json, code, message));
}

void CommandDispatcher::ReportFailure(uint64_t conn_id,
                                      const std::string& id_json,
                                      absl::string_view failure_code,
                                      const absl::Status& status) {
  absl::string_view code = failure_code;
  if (absl::IsUnavailable(status)) code = "broker_unavailable";
  if (absl::IsAborted(status)) code = "backpressure";
  ReplyError(conn_id, id_json, code, status.message());
}

ShardLink::Done CommandDispatcher::ReplyWhenDone(
    uint64_t conn_id, std::string id_json, absl::string_view failure_code) {
  return [this, conn_id, id_json = std::move(id_json),
          failure_code](const absl::Status& status) {
    if (!status.ok()) {
      ReportFailure(conn_id, id_json, failure_code, status);
      return;
    }
    replies_->Reply(conn_id, OkReply(id_json));
  };
}

}  // namespace channel
