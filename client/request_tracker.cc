#include "client/request_tracker.h"

#include <algorithm>
#include <utility>

namespace channel {

uint64_t RequestTracker::Track(Done done) {
  if (!done) return 0;
  const uint64_t id = next_id_++;
  pending_.emplace(id, std::move(done));
  return id;
}

void RequestTracker::TrackPresence(uint64_t id, PresenceDone done) {
  presence_pending_.emplace(id, std::move(done));
}

void RequestTracker::Untrack(uint64_t id) {
  if (id != 0) pending_.erase(id);
}

void RequestTracker::Fail(uint64_t id, const absl::Status& status) {
  auto it = id == 0 ? pending_.end() : pending_.find(id);
  if (it == pending_.end()) return;
  Done done = std::move(it->second);
  pending_.erase(it);
  done(status, 0);
}

void RequestTracker::OnAck(const v1::Ack& ack, QuietConfirmed confirmed) {
  if (ack.cumulative()) {
    while (!unconfirmed_.empty() &&
           unconfirmed_.front().request_id <= ack.request_id()) {
      const uint64_t tag = unconfirmed_.front().tag;
      unconfirmed_.pop_front();
      confirmed(tag);
    }
    return;
  }
  auto it = pending_.find(ack.request_id());
  if (it == pending_.end()) return;
  Done done = std::move(it->second);
  pending_.erase(it);
  done(absl::OkStatus(), ack.receivers());
}

void RequestTracker::OnPresenceInfo(const v1::PresenceInfo& info) {
  auto it = presence_pending_.find(info.request_id());
  if (it == presence_pending_.end()) return;
  PresenceDone done = std::move(it->second);
  presence_pending_.erase(it);
  done(absl::OkStatus(), info.connections(), info.users());
}

void RequestTracker::TrackHistory(uint64_t id, HistoryDone done) {
  history_pending_.emplace(id, std::move(done));
}

void RequestTracker::OnHistoryReply(v1::HistoryReply* reply) {
  auto it = history_pending_.find(reply->request_id());
  if (it == history_pending_.end()) return;
  HistoryDone done = std::move(it->second);
  history_pending_.erase(it);
  done(absl::OkStatus(), reply);
}

bool RequestTracker::OnError(uint64_t request_id, const absl::Status& status,
                             QuietFailed quiet_failed) {
  if (request_id == 0) return false;
  if (auto it = pending_.find(request_id); it != pending_.end()) {
    Done done = std::move(it->second);
    pending_.erase(it);
    done(status, 0);
    return true;
  }
  if (auto it = presence_pending_.find(request_id);
      it != presence_pending_.end()) {
    PresenceDone done = std::move(it->second);
    presence_pending_.erase(it);
    done(status, 0, 0);
    return true;
  }
  if (auto it = history_pending_.find(request_id);
      it != history_pending_.end()) {
    HistoryDone done = std::move(it->second);
    history_pending_.erase(it);
    done(status, nullptr);
    return true;
  }
  // Quiet ids increase: a binary search.
  auto it = std::lower_bound(
      unconfirmed_.begin(), unconfirmed_.end(), request_id,
      [](const Unconfirmed& u, uint64_t id) { return u.request_id < id; });
  if (it == unconfirmed_.end() || it->request_id != request_id) return false;
  const uint64_t tag = it->tag;
  unconfirmed_.erase(it);
  quiet_failed(tag, status);
  return true;
}

void RequestTracker::FailAll(const absl::Status& lost,
                             QuietFailed quiet_failed) {
  auto pending = std::move(pending_);
  pending_.clear();
  auto unconfirmed = std::move(unconfirmed_);
  unconfirmed_.clear();
  auto presence = std::move(presence_pending_);
  presence_pending_.clear();
  auto history = std::move(history_pending_);
  history_pending_.clear();
  for (auto& [id, done] : pending) done(lost, 0);
  for (auto& [id, done] : history) done(lost, nullptr);
  for (auto& [id, done] : presence) done(lost, 0, 0);
  for (const Unconfirmed& u : unconfirmed) quiet_failed(u.tag, lost);
}

}  // namespace channel
