#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "common/channel_names.h"
#include "common/logging/log_limiter.h"
#include "common/logging/logging.h"
#include "gateway/app/app_bridge.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

// What the application asks of this gateway's connections (the actions on
// the app channel): send, join, leave, close, and the result it gets back.
namespace channel {
namespace {

// A direct message (the send action) in the connection's framing: the text
// itself, or {"type":"message","direct":true,"message":M}.
std::string DirectMessage(bool json_framing, const std::string& message) {
  if (!json_framing) return message;
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("type");
  w.String("message");
  w.Key("direct");
  w.Bool(true);
  w.Key("message");
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

void AppBridge::OnAction(const std::string& payload) {
  Bump(stats_->app_actions);
  absl::StatusOr<AppAction> parsed = ParseAppAction(payload, action_limits_);
  if (!parsed.ok()) {
    Bump(stats_->app_actions_invalid);
    CHANNEL_LOG_LIMITED(
        spdlog::level::warn, "application action refused: {} (action: {})",
        parsed.status().message(),
        absl::CHexEscape(absl::string_view(payload).substr(0, 120)));
    return;
  }
  const AppAction& action = *parsed;
  // The client id names this node and one of its connections, or the
  // action finds nobody (a closed connection, another node's id).
  ConnectionData* con = nullptr;
  uint64_t local = 0;
  if (ClientNode(action.client) == node_ &&
      absl::SimpleAtoi(
          absl::string_view(action.client).substr(node_.size() + 1), &local) &&
      local <= kLocalMask) {
    // The worker index is part of the node; the local number is the
    // connection id's low bits.
    con = host_->Find(local | worker_bits_);
  }
  std::string code, message;
  const bool ok = Act(action, con, &code, &message);
  if (!ok) Bump(stats_->app_actions_failed);
  Result(action, ok, code, message, con);
}

bool AppBridge::Act(const AppAction& action, ConnectionData* con,
                    std::string* code, std::string* message) {
  if (action.type == AppAction::Type::kInfo) return true;  // Result tells
  if (action.type == AppAction::Type::kReply) {
    auto it = pending_.find(action.request);
    if (it == pending_.end() || con == nullptr ||
        it->second.conn_id != con->id) {
      *code = "not_found";
      *message = "no such request waits (answered, timed out or closed)";
      return false;
    }
    Answer(action.request, action);
    return true;
  }
  if (con == nullptr) {
    *code = "not_found";
    *message = "no such connection is open";
    return false;
  }
  switch (action.type) {
    case AppAction::Type::kSend: {
      host_->Reply(con->id, DirectMessage(con->json_framing, action.message));
      return true;
    }
    case AppAction::Type::kJoin: {
      const Membership::JoinResult joined =
          membership_->Join(con, action.group, nullptr);
      if (joined == Membership::JoinResult::kTooManyGroups ||
          joined == Membership::JoinResult::kWorkerFull) {
        *code = joined == Membership::JoinResult::kTooManyGroups
                    ? "too_many_groups"
                    : "gateway_full";
        *message = "the connection or its worker is at its group limit";
        return false;
      }
      return true;
    }
    case AppAction::Type::kLeave:
      membership_->Leave(con, action.group);
      return true;
    case AppAction::Type::kBind:
      if (!con->user_id.empty() && con->user_id != action.user) {
        *code = "already_bound";
        *message = "the connection has another user";
        return false;
      }
      if (con->user_id.empty()) {
        con->user_id = action.user;
        membership_->JoinUser(con, action.user);
      }
      return true;
    case AppAction::Type::kClose:
      host_->CloseConnection(con->id, action.code, action.reason);
      return true;
    default:
      return true;
  }
}

void AppBridge::Result(const AppAction& action, bool ok, absl::string_view code,
                       absl::string_view message, ConnectionData* con) {
  if (action.reply_to.empty()) return;
  ActionResult r;
  r.ref_json = action.ref_json;
  r.client = action.client;
  r.ok = ok;
  r.error = code;
  r.message = message;
  if (action.type == AppAction::Type::kInfo) {
    r.info = true;
    r.online = con != nullptr;
    if (con != nullptr) {
      r.user = con->user_id;
      std::string group;
      membership_->ForEachChannelOf(con, [&](const std::string& channel) {
        if (ParseBrokerChannel(channel, &group) == ChannelKind::kGroup) {
          r.groups.push_back(group);
        }
      });
    }
  }
  link_
      ->PublishRaw(action.reply_to, ActionResultJson(r), "", false, false,
                   nullptr)
      .IgnoreError();
}

}  // namespace channel
