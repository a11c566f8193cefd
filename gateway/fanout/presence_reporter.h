#ifndef CHANNEL_GATEWAY_FANOUT_PRESENCE_REPORTER_H_
#define CHANNEL_GATEWAY_FANOUT_PRESENCE_REPORTER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "proto/channel.pb.h"

namespace channel {

// One worker's presence report to the broker (proto Presence): how many of
// its connections are in each group, and which users (authenticated
// connections) have at least one. Changes accumulate and go out batched
// (TakeDelta, from the worker's sweep); after every (re)connect of the
// broker link the whole state goes out again (Snapshot, reset=true), so
// the broker's sum is right even after a broker restart. Same thread as
// its worker; memory bounded by the worker's memberships.
class PresenceReporter {
 public:
  // A connection of `user` (empty: not authenticated) joined / left group
  // `group_id`.
  void Joined(const std::string& group_id, const std::string& user);
  void Left(const std::string& group_id, const std::string& user);

  // The changes since the last Take/Snapshot; false when there are none.
  bool TakeDelta(v1::Presence* out);
  // The whole state, in frames of about `max_bytes` (the first one
  // reset=true); clears pending changes.
  std::vector<v1::Presence> Snapshot(size_t max_bytes);

 private:
  struct Group {
    int64_t connections = 0;
    absl::flat_hash_map<std::string, int64_t> users;  // connections per user
  };
  struct Pending {
    int64_t connections = 0;
    std::vector<std::string> joined, left;
  };

  absl::flat_hash_map<std::string, Group> groups_;
  absl::flat_hash_map<std::string, Pending> pending_;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_FANOUT_PRESENCE_REPORTER_H_
