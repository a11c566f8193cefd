// CommandDispatcher: history (docs/CLIENT-PROTOCOL.md "History"): the
// position in a join's reply, resuming a join from a position, and the
// history command.
#include <algorithm>
#include <limits>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/channel_names.h"
#include "gateway/commands/command_dispatcher.h"
#include "gateway/commands/replies.h"
#include "gateway/fanout/fanout_batch.h"

namespace channel {
namespace {

Delivery FromEvent(const std::string& channel, const v1::Event& event) {
  Delivery d;
  d.channel = channel;
  d.payload = std::make_shared<const std::string>(event.payload());
  if (!event.meta().sender().empty() || event.offset() != 0) {
    Delivery::Rare& rare = d.mutable_rare();
    rare.sender = event.meta().sender();
    rare.offset = event.offset();
    rare.epoch = event.epoch();
  }
  return d;
}

}  // namespace

void CommandDispatcher::JoinedReply(uint64_t conn_id, const Command& command) {
  if (command.id_json.empty()) return;
  const std::string channel = GroupChannel(command.group_id);
  JoinPosition position;
  // Everything after this position reaches the connection: the link's
  // position is at least where the subscription started (its Ack came
  // before this reply), and the member was in the group before that.
  position.has_position =
      link_->PositionOf(channel, &position.offset, &position.epoch);
  position.asked_recovery = command.has_since;  // no history: false
  position.members_json = MembersJson(conn_id, command.group_id);
  if (!position.has_position && !position.asked_recovery &&
      position.members_json.empty()) {
    replies_->Reply(conn_id, OkReply(command.id_json));
    return;
  }
  if (command.has_since) Bump(stats_->recoveries_failed);
  replies_->Reply(conn_id, JoinReply(command.id_json, position));
}

void CommandDispatcher::ResumeJoined(uint64_t conn_id, const Command& command) {
  ConnectionData* con = replies_->Find(conn_id);
  if (con == nullptr) return;  // closed: Recoveries forgot it
  if (con->history_in_flight >= kMaxHistoryInFlight) {
    queued_resumes_[conn_id].push_back(command);
    ++con->awaiting_replies;  // the drain waits for it too
    return;
  }
  StartResume(con, command);
}

void CommandDispatcher::StartResume(ConnectionData* con,
                                    const Command& command) {
  v1::HistoryQuery query;
  query.set_channel(GroupChannel(command.group_id));
  query.mutable_since()->set_offset(command.since_offset);
  query.mutable_since()->set_epoch(command.since_epoch);
  query.set_max_bytes(static_cast<uint32_t>(options_.max_queued_bytes / 2));
  ++con->history_in_flight;
  link_->QueryHistory(query, Owed(con, [this, conn_id = con->id, command](
                                           const absl::Status& status,
                                           v1::HistoryReply* reply) {
                        HistoryDone(conn_id);
                        FinishResume(conn_id, command, status, reply);
                      }));
}

void CommandDispatcher::HistoryDone(uint64_t conn_id) {
  ConnectionData* con = replies_->Find(conn_id);
  if (con == nullptr) {
    queued_resumes_.erase(conn_id);
    return;
  }
  if (con->history_in_flight > 0) --con->history_in_flight;
  auto it = queued_resumes_.find(conn_id);
  if (it == queued_resumes_.end()) return;
  Command next = std::move(it->second.front());
  it->second.pop_front();
  if (it->second.empty()) queued_resumes_.erase(it);
  Unowe(con);  // counted while queued; StartResume owes it again
  StartResume(con, next);
}

void CommandDispatcher::FinishResume(uint64_t conn_id, const Command& command,
                                     const absl::Status& status,
                                     v1::HistoryReply* reply) {
  ConnectionData* con = replies_->Find(conn_id);
  if (con == nullptr) return;
  const std::string channel = GroupChannel(command.group_id);
  Recoveries::Held held;
  if (!recoveries_->End(con, channel, &held)) return;  // left meanwhile
  JoinPosition position;
  position.asked_recovery = true;
  // What the held deliveries must be newer than to be sent: the top of
  // the read. Without an answer (the link dropped) they all go.
  uint64_t seen = 0;
  std::string seen_epoch;
  if (status.ok()) {
    position.has_position = true;
    position.offset = reply->position().offset();
    position.epoch = reply->position().epoch();
    position.recovered = reply->position().recovered() && !held.overflowed;
    seen = position.offset;
    seen_epoch = position.epoch;
  } else {
    position.has_position =
        link_->PositionOf(channel, &position.offset, &position.epoch);
  }
  Bump(position.recovered ? stats_->recoveries : stats_->recoveries_failed);
  position.members_json = MembersJson(conn_id, command.group_id);
  // The reply first, then what was missed, then what was held.
  if (!command.id_json.empty()) {
    replies_->Reply(conn_id, JoinReply(command.id_json, position));
  }
  if (position.recovered) {
    for (const v1::Event& event : reply->events()) {
      SendDelivery(con, FromEvent(channel, event));
    }
  }
  for (const Delivery& d : held.deliveries) {
    if (d.epoch() == seen_epoch && d.offset() <= seen) continue;
    SendDelivery(con, d);
  }
}

void CommandDispatcher::EndResume(ConnectionData* con,
                                  const std::string& channel) {
  Recoveries::Held dropped;
  recoveries_->End(con, channel, &dropped);
}

void CommandDispatcher::SendDelivery(ConnectionData* con,
                                     const Delivery& delivery) {
  replies_->Reply(con->id, con->json_framing ? FanoutBatch::Json(delivery)
                                             : *delivery.payload);
  Bump(stats_->deliveries);
}

void CommandDispatcher::History(ConnectionData* con, const Command& command) {
  const bool joined =
      auth_->required() && membership_->IsMember(con, command.group_id);
  if (!auth_->MayReadHistory(con, command, joined)) return;
  if (!link_->up()) {
    ReplyError(con->id, command.id_json, "broker_unavailable",
               "the gateway has no broker link; retry later");
    return;
  }
  if (con->history_in_flight >= kMaxHistoryInFlight) {
    ReplyError(con->id, command.id_json, "rate_limited",
               absl::StrCat("at most ", kMaxHistoryInFlight,
                            " history reads and resumes in flight per "
                            "connection; wait for an answer"));
    return;
  }
  ++con->history_in_flight;
  v1::HistoryQuery query;
  query.set_channel(GroupChannel(command.group_id));
  query.set_max_bytes(static_cast<uint32_t>(options_.max_queued_bytes / 2));
  // The broker caps it at its --history_recover_max.
  query.set_limit(static_cast<uint32_t>(
      std::min<uint64_t>(command.limit, std::numeric_limits<uint32_t>::max())));
  query.set_before(command.before);
  link_->QueryHistory(
      query,
      Owed(con, [this, conn_id = con->id, id_json = command.id_json](
                    const absl::Status& status, v1::HistoryReply* reply) {
        HistoryDone(conn_id);
        if (absl::IsFailedPrecondition(status)) {
          ReplyError(conn_id, id_json, "history_not_enabled",
                     "this group has no history (no --history rule of the "
                     "broker matches it)");
          return;
        }
        if (!status.ok()) {
          ReportFailure(conn_id, id_json, "broker_unavailable", status);
          return;
        }
        Bump(stats_->history_reads);
        std::vector<HistoryItem> items;
        items.reserve(reply->events_size());
        for (const v1::Event& e : reply->events()) {
          items.push_back({e.offset(), e.payload(), e.meta().sender()});
        }
        replies_->Reply(
            conn_id,
            HistoryReply(id_json, reply->position().offset(),
                         reply->position().epoch(), items, reply->truncated()));
      }));
}

}  // namespace channel
