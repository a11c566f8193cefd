#include "broker/routing/presence_service.h"

namespace channel {

absl::Status PresenceService::Apply(const void* reporter, uint64_t id,
                                    const v1::Presence& report) {
  absl::Status s = table_.Apply(reporter, report);
  if (s.ok() && cluster_ != nullptr)
    cluster_->LocalReport(reporter, id, report);
  return s;
}

void PresenceService::Gone(const void* reporter, uint64_t id) {
  table_.RemoveReporter(reporter);
  if (cluster_ != nullptr) cluster_->LocalGone(id);
}

}  // namespace channel
