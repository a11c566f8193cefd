#include "broker/routing/presence_service.h"

namespace channel {

absl::Status PresenceService::Apply(const void* reporter, uint64_t id,
                                    const v1::Presence& report) {
  edges_.clear();
  absl::Status s = table_.Apply(reporter, report, on_edge_ ? &edges_ : nullptr);
  if (s.ok() && cluster_ != nullptr)
    cluster_->LocalReport(reporter, id, report);
  Tell();
  return s;
}

void PresenceService::Gone(const void* reporter, uint64_t id) {
  edges_.clear();
  table_.RemoveReporter(reporter, on_edge_ ? &edges_ : nullptr);
  if (cluster_ != nullptr) cluster_->LocalGone(id);
  Tell();
}

void PresenceService::Tell() {
  if (!on_edge_ || edges_.empty()) return;
  // The handler may publish (and so reach this service again): a copy.
  const PresenceTable::Edges edges = std::move(edges_);
  edges_.clear();
  for (const auto& [group, occupied] : edges) on_edge_(group, occupied);
}

}  // namespace channel
