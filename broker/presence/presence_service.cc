#include "broker/presence/presence_service.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/presence/member_json.h"

namespace channel {

PresenceService::PresenceService(size_t max_entries_per_reporter,
                                 PresenceRules rules)
    : rules_(std::move(rules)), table_(max_entries_per_reporter) {
  if (!rules_.empty()) {
    table_.set_members_of([this](const std::string& group) {
      return rules_.ForGroup(group) != nullptr;
    });
  }
}

void PresenceService::set_on_edge(EdgeFn fn) {
  on_edge_ = std::move(fn);
  if (cluster_ != nullptr) cluster_->set_on_edge(on_edge_);
}

void PresenceService::set_cluster(ClusterPresence* cluster) {
  cluster_ = cluster;
  if (cluster_ != nullptr) cluster_->set_on_edge(on_edge_);
}

absl::Status PresenceService::Check(const v1::Presence& report,
                                    v1::Presence* checked,
                                    bool* rewritten) const {
  *rewritten = false;
  if (rules_.empty()) return absl::OkStatus();
  // New users per presence group, to hold against max_members.
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> arriving;
  for (int i = 0; i < report.deltas_size(); ++i) {
    const v1::PresenceDelta& d = report.deltas(i);
    const PresenceRule* rule = rules_.ForGroup(d.group());
    if (rule == nullptr || d.users_joined().empty()) continue;
    if (d.infos_size() > d.users_joined_size()) {
      return absl::InvalidArgumentError("more presence infos than users");
    }
    for (int u = 0; u < d.users_joined_size(); ++u) {
      const std::string& user = d.users_joined(u);
      if (!report.reset() && !table_.HasUser(d.group(), user)) {
        arriving[d.group()].insert(user);
      }
      if (u >= d.infos_size()) continue;
      absl::StatusOr<std::string> info =
          NormalizeMemberInfo(d.infos(u), rule->info_bytes);
      if (!info.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "group ", d.group().substr(0, 64), ": ", info.status().message()));
      }
      if (*info == d.infos(u)) continue;
      if (!*rewritten) {
        *checked = report;
        *rewritten = true;
      }
      checked->mutable_deltas(i)->set_infos(u, *std::move(info));
    }
  }
  for (const auto& [group, users] : arriving) {
    const PresenceRule* rule = rules_.ForGroup(group);
    const uint64_t now = table_.Get(group).users;
    if (now + users.size() > rule->max_members) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "presence_full: group \"", group.substr(0, 64), "\" has ", now,
          " member(s), its limit is ", rule->max_members));
    }
  }
  return absl::OkStatus();
}

absl::Status PresenceService::Apply(const void* reporter, uint64_t id,
                                    const v1::Presence& original) {
  v1::Presence rewritten;
  bool was_rewritten = false;
  if (absl::Status s = Check(original, &rewritten, &was_rewritten); !s.ok()) {
    return s;
  }
  const v1::Presence& report = was_rewritten ? rewritten : original;
  edges_.clear();
  member_edges_.clear();
  absl::Status s = table_.Apply(reporter, report, on_edge_ ? &edges_ : nullptr,
                                on_member_ ? &member_edges_ : nullptr);
  if (s.ok() && cluster_ != nullptr)
    cluster_->LocalReport(reporter, id, report);
  Tell();
  return s;
}

void PresenceService::Gone(const void* reporter, uint64_t id) {
  edges_.clear();
  member_edges_.clear();
  table_.RemoveReporter(reporter, on_edge_ ? &edges_ : nullptr,
                        on_member_ ? &member_edges_ : nullptr);
  if (cluster_ != nullptr) cluster_->LocalGone(id);
  Tell();
}

void PresenceService::Tell() {
  // The handlers may publish (and so reach this service again, e.g. a
  // session closed on overflow reports its departure): both lists are
  // taken before any handler runs.
  const PresenceTable::MemberEdges members = std::move(member_edges_);
  member_edges_.clear();
  const PresenceTable::Edges edges = std::move(edges_);
  edges_.clear();
  if (on_member_) {
    for (const PresenceTable::MemberEdge& e : members) on_member_(e);
  }
  if (!on_edge_ || edges.empty()) return;
  if (cluster_ != nullptr) {
    cluster_->LocalEdges(edges, ClusterPresence::Clock::now());
    return;
  }
  for (const auto& [group, occupied] : edges) on_edge_(group, occupied);
}

}  // namespace channel
