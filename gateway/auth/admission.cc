#include "gateway/auth/admission.h"

#include "common/logging/log_limiter.h"
#include "common/logging/logging.h"

namespace channel {

Admission::Accept Admission::OnAccepted(ConnectionData* con,
                                        const std::string& source) {
  con->pending_counted = true;
  pending_sources_[con] = source;
  const int64_t from_source = limits_->AddPendingFrom(source, 1);
  const int64_t pending = limits_->pending_handshakes.fetch_add(1) + 1;
  // The per-source bound applies once half the budget is taken: a source
  // may take more while nobody else is short (all clients behind one
  // proxy share a source), never the whole budget.
  if (options_.max_pending_handshakes_per_source > 0 &&
      pending > options_.max_pending_handshakes / 2 &&
      from_source > options_.max_pending_handshakes_per_source) {
    Bump(stats_->handshakes_refused_pending_source);
    return Accept::kRefuse;
  }
  if (pending > options_.max_pending_handshakes) return Accept::kShedOldest;
  return Accept::kAdmit;
}

void Admission::EndPending(ConnectionData* con) {
  if (con->pending_counted) {
    con->pending_counted = false;
    limits_->pending_handshakes.fetch_sub(1);
    auto it = pending_sources_.find(con);
    if (it != pending_sources_.end()) {
      limits_->AddPendingFrom(it->second, -1);
      pending_sources_.erase(it);
    }
  }
}

Admission::Verdict Admission::Validate(ConnectionData* con,
                                       absl::string_view origin,
                                       bool shutting_down) {
  if (shutting_down) {
    Bump(stats_->handshakes_refused_shutdown);
    return {false, 503, ""};
  }
  if (limits_->connections.fetch_add(1) >= options_.max_connections) {
    limits_->connections.fetch_sub(1);
    Bump(stats_->handshakes_refused_full);
    return {false, 503, "too many connections\n"};
  }
  con->slot_counted = true;
  if (!options_.allowed_origins.empty()) {
    bool allowed = false;
    for (const auto& o : options_.allowed_origins) allowed |= o == origin;
    if (!allowed) {
      Bump(stats_->handshakes_refused_origin);
      ReleaseSlot(con);
      CHANNEL_LOG_LIMITED(spdlog::level::info,
                          "refused handshake from origin '{}'",
                          origin.substr(0, 128));
      return {false, 403, "origin not allowed\n"};
    }
  }
  return {};
}

void Admission::ReleaseSlot(ConnectionData* con) {
  if (con->slot_counted) {
    con->slot_counted = false;
    limits_->connections.fetch_sub(1);
  }
}

}  // namespace channel
