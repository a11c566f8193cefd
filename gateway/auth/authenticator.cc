#include "gateway/auth/authenticator.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/logging/logging.h"
#include "gateway/commands/replies.h"

namespace channel {
namespace {

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Authenticator::Authenticator(const GatewayOptions& options,
                             const TokenVerifier* verifier,
                             Membership* membership, WorkerStats* stats,
                             Host* host, UnixNow now)
    : options_(options),
      verifier_(verifier),
      membership_(membership),
      stats_(stats),
      host_(host),
      now_(now ? std::move(now) : UnixNow(SystemNowMs)) {}

void Authenticator::OnOpen(ConnectionData* con, absl::string_view url_token) {
  if (!required()) return;
  if (!url_token.empty()) {
    Authenticate(con, url_token, "");
    return;
  }
  Push({now_() + options_.auth_timeout.count(), con->id, Kind::kAuth, ""});
}

void Authenticator::OnAuth(ConnectionData* con, const Command& command) {
  if (!required()) {
    stats_->CountError("auth_disabled");
    host_->Reply(con->id, ErrorReply(command.id_json, "auth_disabled",
                                     "this gateway does not use tokens"));
    return;
  }
  if (Authenticate(con, command.token, command.id_json) &&
      !command.id_json.empty()) {
    host_->Reply(con->id, OkReply(command.id_json));
  }
}

bool Authenticator::Authenticate(ConnectionData* con, absl::string_view token,
                                 const std::string& id_json) {
  const int64_t now_ms = now_();
  absl::StatusOr<TokenClaims> verified =
      verifier_->Verify(token, now_ms / 1000);
  const bool first = con->user_id.empty();
  if (!verified.ok()) {
    const absl::string_view reason = TokenRejectReason(verified.status());
    stats_->CountAuth(reason);
    stats_->CountError("unauthorized");
    host_->Reply(con->id, ErrorReply(id_json, "unauthorized",
                                     absl::StrCat("token rejected: ", reason)));
    if (first) {
      host_->CloseConnection(con->id, kCloseAuthFailed,
                             absl::StrCat("authentication failed: ", reason));
    }
    return false;
  }
  if (!first && verified->sub != con->user_id) {
    stats_->CountAuth("bad_claims");
    stats_->CountError("unauthorized");
    host_->Reply(con->id,
                 ErrorReply(id_json, "unauthorized",
                            "a refreshed token must be for the same user"));
    return false;
  }
  stats_->CountAuth("ok");
  auto claims = std::make_shared<TokenClaims>(*std::move(verified));
  con->token_expires_ms = claims->exp ? *claims->exp * 1000 : 0;
  if (first) {
    con->user_id = claims->sub;
    con->user_info = claims->info;
    membership_->JoinUser(con, con->user_id);
  }
  con->claims = std::move(claims);
  if (con->token_expires_ms != 0 && !con->token_deadline_queued) {
    con->token_deadline_queued = true;
    Push({con->token_expires_ms, con->id, Kind::kToken, ""});
  }
  return true;
}

bool Authenticator::CheckAuthenticated(ConnectionData* con,
                                       const Command& command) {
  if (!required() || !con->user_id.empty()) return true;
  stats_->CountError("unauthorized");
  host_->Reply(con->id,
               ErrorReply(command.id_json, "unauthorized",
                          "authenticate first: {\"cmd\":\"auth\",\"token\":"
                          "...} or ?token= in the URL"));
  return false;
}

void Authenticator::Refused(ConnectionData* con, const std::string& id_json,
                            absl::string_view command, const std::string& group,
                            absl::string_view why) {
  stats_->CountForbidden(command);
  stats_->CountError("forbidden");
  const std::string what =
      group.empty() ? std::string(command)
                    : absl::StrCat(command, " ", group.substr(0, 128));
  host_->Reply(con->id,
               ErrorReply(id_json, "forbidden", absl::StrCat(what, ": ", why)));
}

bool Authenticator::MayJoin(ConnectionData* con, const Command& command) {
  if (!required()) return true;
  const std::string& group = command.group_id;
  if (!command.token.empty()) {
    // A join token: signed for this user and this group.
    absl::StatusOr<TokenClaims> join =
        verifier_->Verify(command.token, now_() / 1000);
    if (!join.ok()) {
      Refused(con, command.id_json, "add_group", group,
              absl::StrCat("join token rejected: ",
                           TokenRejectReason(join.status())));
      return false;
    }
    if (join->sub != con->user_id || join->group != group) {
      Refused(con, command.id_json, "add_group", group,
              "the join token is for another user or group");
      return false;
    }
    if (join->exp) {
      const int64_t expires = *join->exp * 1000;
      ConnectionData::JoinGrant* grant = nullptr;
      for (auto& g : con->join_grants) {
        if (g.group == group) grant = &g;
      }
      if (grant == nullptr) {
        // Bounded like memberships (a grant outlives a leave until its
        // deadline, so joins and leaves cannot grow the heap).
        if (con->join_grants.size() >= options_.max_groups_per_connection) {
          Refused(con, command.id_json, "add_group", group,
                  "too many join tokens on this connection");
          return false;
        }
        con->join_grants.push_back({group, expires, false, true});
        grant = &con->join_grants.back();
      } else {
        grant->expires_ms = expires;
        grant->active = true;
      }
      if (!grant->queued) {
        grant->queued = true;
        Push({expires, con->id, Kind::kJoin, group});
      }
    }
    return true;
  }
  if (con->claims && MatchesAny(con->claims->groups, group)) return true;
  Refused(con, command.id_json, "add_group", group,
          "the token does not grant this group");
  return false;
}

bool Authenticator::MaySend(ConnectionData* con, const Command& command,
                            bool joined) {
  if (!required()) return true;
  if (command.type == Command::Type::kSendToAll) {
    if (con->claims && con->claims->send_to_all) return true;
    Refused(con, command.id_json, "send_to_all", "",
            "the token does not grant send_to_all");
    return false;
  }
  const bool allowed = con->claims && con->claims->send
                           ? MatchesAny(*con->claims->send, command.group_id)
                           : joined;
  if (allowed) return true;
  Refused(con, command.id_json, "send_to_group", command.group_id,
          con->claims && con->claims->send
              ? "the token does not grant sending to this group"
              : "join the group first (the token has no send claim)");
  return false;
}

bool Authenticator::MayRead(ConnectionData* con, const Command& command,
                            bool joined, absl::string_view what) {
  if (!required() || joined ||
      (con->claims && MatchesAny(con->claims->groups, command.group_id))) {
    return true;
  }
  Refused(con, command.id_json, what, command.group_id,
          "the token does not grant this group");
  return false;
}

void Authenticator::OnLeave(ConnectionData* con, const std::string& group) {
  for (auto& g : con->join_grants) {
    if (g.group == group) g.active = false;
  }
}

void Authenticator::Sweep() {
  const int64_t now_ms = now_();
  while (!deadlines_.empty() && deadlines_.top().at_ms <= now_ms) {
    Deadline d = deadlines_.top();
    deadlines_.pop();
    ConnectionData* con = host_->Find(d.conn_id);
    if (con == nullptr) continue;  // gone, or closing
    switch (d.kind) {
      case Kind::kAuth:
        if (con->user_id.empty()) {
          Bump(stats_->auth_timeouts);
          host_->CloseConnection(
              con->id, kCloseAuthTimeout,
              absl::StrCat("no authentication within ",
                           options_.auth_timeout.count(), " ms"));
        }
        break;
      case Kind::kToken:
        con->token_deadline_queued = false;
        if (con->token_expires_ms == 0) break;
        if (con->token_expires_ms > now_ms) {  // refreshed meanwhile
          con->token_deadline_queued = true;
          Push({con->token_expires_ms, con->id, Kind::kToken, ""});
          break;
        }
        Bump(stats_->token_expiry_closes);
        host_->CloseConnection(con->id, kCloseTokenExpired, "token expired");
        break;
      case Kind::kJoin: {
        auto& grants = con->join_grants;
        for (size_t i = 0; i < grants.size(); ++i) {
          if (grants[i].group != d.group) continue;
          grants[i].queued = false;
          if (grants[i].expires_ms > now_ms) {  // renewed meanwhile
            grants[i].queued = true;
            Push({grants[i].expires_ms, con->id, Kind::kJoin, d.group});
            break;
          }
          const bool active = grants[i].active;
          grants.erase(grants.begin() + static_cast<ptrdiff_t>(i));
          if (active && membership_->Leave(con, d.group)) {
            Bump(stats_->join_expiries);
            stats_->CountError("join_expired");
            host_->Reply(con->id,
                         ErrorReply("", "join_expired",
                                    absl::StrCat("the join token for group ",
                                                 d.group.substr(0, 128),
                                                 " expired; you left it")));
          }
          break;
        }
        break;
      }
    }
  }
}

}  // namespace channel
