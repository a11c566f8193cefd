#ifndef CHANNEL_GATEWAY_PRESENCE_PRESENCE_REPORTER_H_
#define CHANNEL_GATEWAY_PRESENCE_PRESENCE_REPORTER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "proto/channel.pb.h"

namespace channel {

// One worker's presence report to the broker (proto Presence): how many of
// its connections are in each group, and which users (authenticated
// connections) have at least one, with their info in groups that keep
// member lists. Changes accumulate and go out batched (TakeDelta, from
// the worker's sweep), except in groups with member lists (urgent: every
// member hears each change, so they go out within the loop turn,
// TakeUrgent); after every (re)connect of the broker link the whole state
// goes out again (Snapshot, reset=true), so the broker's sum is right even
// after a broker restart. Same thread as its worker; memory bounded by the
// worker's memberships.
class PresenceReporter {
 public:
  // Which groups have member lists (the broker's presence rules), and who
  // to call when an urgent change is waiting (once until it is taken).
  void set_urgent(std::function<bool(const std::string& group_id)> is_urgent,
                  std::function<void()> on_urgent) {
    is_urgent_ = std::move(is_urgent);
    on_urgent_ = std::move(on_urgent);
  }

  // A connection of `user` (empty: not authenticated; `info`: its member
  // info, canonical JSON or empty) joined / left group `group_id`.
  void Joined(const std::string& group_id, const std::string& user,
              const std::string& info = "");
  void Left(const std::string& group_id, const std::string& user);
  // Takes back a Joined whose report the broker refused: the broker holds
  // nothing of it, so nothing is reported.
  void Forget(const std::string& group_id, const std::string& user);

  // The batched changes since the last Take/Snapshot; false when none.
  bool TakeDelta(v1::Presence* out) { return Take(&pending_, out); }
  // The changes in groups with member lists; false when none.
  bool TakeUrgent(v1::Presence* out) {
    urgent_posted_ = false;
    return Take(&urgent_, out);
  }
  // The whole state, in frames of about `max_bytes` (the first one
  // reset=true); clears pending changes.
  std::vector<v1::Presence> Snapshot(size_t max_bytes);

 private:
  struct Group {
    int64_t connections = 0;
    absl::flat_hash_map<std::string, int64_t> users;     // connections per user
    absl::flat_hash_map<std::string, std::string> info;  // member lists
  };
  struct Pending {
    int64_t connections = 0;
    std::vector<std::pair<std::string, std::string>> joined;  // user, info
    std::vector<std::string> left;
  };
  using PendingMap = absl::flat_hash_map<std::string, Pending>;

  Pending& PendingFor(const std::string& group_id);
  static bool Take(PendingMap* from, v1::Presence* out);

  absl::flat_hash_map<std::string, Group> groups_;
  PendingMap pending_;
  PendingMap urgent_;
  bool urgent_posted_ = false;
  std::function<bool(const std::string&)> is_urgent_;
  std::function<void()> on_urgent_;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_PRESENCE_PRESENCE_REPORTER_H_
