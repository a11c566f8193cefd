#ifndef CHANNEL_BROKER_ROUTING_QUEUE_GROUPS_H_
#define CHANNEL_BROKER_ROUTING_QUEUE_GROUPS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "broker/routing/subscriber.h"

namespace channel {

// Queue groups (Subscribe.queue_group, docs/PROTOCOL.md "Queue groups"):
// several consumers share a channel's events, each event to one member of
// each group, as with NATS queue subscriptions and GatewayWorker's business
// workers. Events carrying a key (Metadata.key, a gateway's connection id)
// stick to one member: the first event of a key binds it to the next
// member in turn, later ones follow the binding while that member stays in
// the group, and the key's last event (Metadata.key_end) ends it. A member
// that leaves takes its bindings with it: its keys bind anew on their next
// event, to the members left. A publisher's bindings end with it (a gateway
// gone mid-connection sends no close).
//
// In a cluster, another broker with members of a group is one member
// here (a Subscriber with IsBroker(), which sends what it is given to that
// broker): an event picks among this broker's members and the other
// brokers, sticky per key as above, and the broker that gets it picks one
// of its own members (PickLocal), sticky per key there.
//
// Bounded: at most `max_bindings` bindings over all groups. Past it a new
// key is not bound but hashed over the members (still the same member for
// the same key while the group does not change), and counted.
//
// Owned by the broker's io thread (the Router's).
class QueueGroups {
 public:
  explicit QueueGroups(size_t max_bindings) : max_bindings_(max_bindings) {}

  // Membership changes. channel_edge: `channel` gained its first member of
  // any group (Join) or lost its last (Leave). local_edge: a member on this
  // broker (not IsBroker) made the group's local members go from none to
  // one or from one to none: what the cluster is told.
  struct Change {
    bool changed = false;       // the membership was new / existed
    bool channel_edge = false;  // see above
    bool local_edge = false;    // see above
  };
  Change Join(Subscriber* member, const std::string& channel,
              const std::string& group);
  Change Leave(Subscriber* member, const std::string& channel,
               const std::string& group);
  // `member` is gone: it leaves every group; returns the channels that
  // lost their last member. Its bindings end too. The (channel, group)
  // pairs whose last local member it was are appended to *local_left.
  using GroupName = std::pair<std::string, std::string>;  // channel, group
  std::vector<std::string> RemoveAll(Subscriber* member,
                                     std::vector<GroupName>* local_left);
  // `publisher` is gone: the bindings of the keys it published end.
  void ForgetPublisher(const Subscriber* publisher);

  // One member of each of `channel`'s groups for an event with `key`
  // (empty: none), appended to *out with its group's name. Binds or ends
  // the key's binding as described above.
  void Pick(const std::string& channel, absl::string_view key, bool key_end,
            const Subscriber* publisher,
            std::vector<std::pair<std::string, Subscriber*>>* out);
  // One member on this broker (never IsBroker) of `channel`'s `group`, for
  // an event another broker chose this one for; null when there is none.
  Subscriber* PickLocal(const std::string& channel, const std::string& group,
                        absl::string_view key, bool key_end,
                        const Subscriber* publisher);
  // Member `failed` of `channel`'s `group` could not take the event: the
  // next member (not in `tried`; with local_only, on this broker) for
  // `key`, rebound to it; null when none is left.
  Subscriber* Retry(const std::string& channel, const std::string& group,
                    absl::string_view key, bool key_end,
                    const Subscriber* publisher,
                    const std::vector<Subscriber*>& tried, bool local_only);

  // On every publish: no hashing while there are no queue groups at all.
  bool Has(absl::string_view channel) const {
    return !channels_.empty() && channels_.contains(channel);
  }
  // Memberships of `member` (each counts as a channel held).
  size_t CountFor(Subscriber* member) const {
    auto it = memberships_.find(member);
    return it == memberships_.end() ? 0 : it->second.size();
  }
  bool Contains(Subscriber* member, const std::string& channel,
                const std::string& group) const;
  size_t bindings() const { return bindings_; }
  uint64_t unbound_picks() const { return unbound_picks_; }

 private:
  struct Binding {
    Subscriber* member = nullptr;
    const Subscriber* publisher = nullptr;
  };
  struct Group {
    std::vector<Subscriber*> members;  // in joining order; each once
    size_t local = 0;                  // members that are not IsBroker
    uint64_t turn = 0;                 // the next new key's member
    absl::flat_hash_map<std::string, Binding> bindings;
  };
  using Groups = absl::flat_hash_map<std::string, Group>;

  // Chooses (and binds) `key`'s member of `group`, skipping `tried` (and
  // with local_only, other brokers).
  Subscriber* Choose(Group& group, absl::string_view key, bool key_end,
                     const Subscriber* publisher,
                     const std::vector<Subscriber*>* tried, bool local_only);
  // Takes `member` out of `channel`'s `group` (the group goes with its last
  // member); true when the channel has no group left. *local_edge: it was
  // the group's last local member.
  bool Unjoin(Subscriber* member, const std::string& channel,
              const std::string& group, bool* local_edge);
  // Removes `member` from `group` with its bindings.
  void DropMember(Group& group, Subscriber* member);

  const size_t max_bindings_;
  absl::flat_hash_map<std::string, Groups> channels_;
  // Every (channel, group) a member is in, for RemoveAll and the limit.
  absl::flat_hash_map<Subscriber*, std::vector<GroupName>> memberships_;
  size_t bindings_ = 0;
  uint64_t unbound_picks_ = 0;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_ROUTING_QUEUE_GROUPS_H_
