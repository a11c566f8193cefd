// CommandDispatcher: joins of groups with member lists
// (docs/CLIENT-PROTOCOL.md "Presence members").
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/presence/member_json.h"
#include "gateway/commands/command_dispatcher.h"

namespace channel {

void CommandDispatcher::FlushPresence() {
  if (!link_->up()) return;  // the snapshot after the reconnect has them
  v1::Presence report;
  if (reporter_->TakeUrgent(&report)) link_->SendPresence(report).IgnoreError();
}

void CommandDispatcher::AddPresenceGroup(ConnectionData* con,
                                         const Command& command, bool resume) {
  const PresenceRule* rule = link_->presence_rules().ForGroup(command.group_id);
  if (con->user_id.empty()) {
    ReplyError(con->id, command.id_json, "token_required",
               absl::StrCat("group \"", command.group_id,
                            "\" keeps a member list: only a connection "
                            "authenticated with a token (a user) may join it"));
    return;
  }
  if (con->user_info.size() > rule->info_bytes) {
    ReplyError(con->id, command.id_json, "info_too_large",
               absl::StrCat("your token's info has ", con->user_info.size(),
                            " bytes; group \"", command.group_id, "\" allows ",
                            rule->info_bytes));
    return;
  }
  // Changes waiting go first, without an id: the report below is this
  // join alone, so that its refusal takes back nothing else.
  FlushPresence();
  // The reply waits for the subscription and the report (in either order:
  // a Subscribe Ack may wait for a grant's release).
  struct State {
    int waiting = 2;
    absl::Status failure;
    bool reported = false;  // the broker applied the report
  };
  auto state = std::make_shared<State>();
  auto finish = [this, conn_id = con->id, command, resume, state](
                    const absl::Status& status, bool report) {
    if (report) state->reported = status.ok();
    if (!status.ok() && state->failure.ok()) state->failure = status;
    if (--state->waiting > 0) return;
    // A refused report left nothing at the broker: the leave is not
    // reported either.
    JoinDone(conn_id, command, resume, state->failure,
             absl::IsResourceExhausted(state->failure) ? "presence_full"
                                                       : "join_refused",
             /*report_leave=*/state->reported);
  };
  const std::string channel = GroupChannel(command.group_id);
  if (resume) recoveries_->Begin(con, channel);
  const Membership::JoinResult joined = membership_->Join(
      con, command.group_id,
      Owed(con, [finish](const absl::Status& s) { finish(s, false); }));
  if (joined != Membership::JoinResult::kJoined) {
    Unowe(con);  // refused before the broker: the callback never runs
    if (resume) EndResume(con, channel);
    TellJoinRefused(con, command, joined);
    return;
  }
  v1::Presence report;
  reporter_->TakeUrgent(&report);  // this join: one more connection
  link_->SendPresence(std::move(report),
                      Owed(con, [finish](const absl::Status& s, uint64_t) {
                        finish(s, true);
                      }));
}

std::string CommandDispatcher::MembersJson(uint64_t conn_id,
                                           const std::string& group_id) {
  if (link_->presence_rules().ForGroup(group_id) == nullptr) return "";
  MemberList list;
  if (const MemberList* copy = members_->Find(group_id)) list = *copy;
  // Its own arrival may still be on its way from the broker.
  if (ConnectionData* c = replies_->Find(conn_id);
      c != nullptr && !c->user_id.empty()) {
    list.try_emplace(c->user_id, c->user_info.empty() ? "{}" : c->user_info);
  }
  return MemberListJson(list);
}

}  // namespace channel
