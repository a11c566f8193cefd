#include <cstring>
#include <memory>
#include <utility>

#include "broker/broker_server.h"
#include "broker/history/history_replay.h"
#include "common/channel_names.h"
#include "common/logging/logging.h"
#include "common/presence/member_json.h"

// What the broker's other parts ask of it (ApiBackend, the presence
// service): API publishes, reads and client actions, member events.
namespace channel {

void BrokerServer::ActOnClient(ActionRequest request, ClientActionDone done) {
  if (absl::Status s = grace_.Check(); !s.ok()) {
    done(s);
    return;
  }
  client_actions_->Act(std::move(request), std::move(done));
}

void BrokerServer::PublishFromApi(const std::vector<std::string>& channels,
                                  const std::string& message,
                                  PublishDone done) {
  if (absl::Status s = grace_.Check(); !s.ok()) {
    done(s, 0);
    return;
  }
  v1::Publish publish;
  for (const std::string& c : channels) publish.add_channels(c);
  publish.set_payload(message);
  auto shared_done = std::make_shared<PublishDone>(std::move(done));
  absl::StatusOr<uint64_t> receivers = router_.Publish(
      &publish, nullptr, [shared_done](const absl::StatusOr<uint64_t>& result) {
        (*shared_done)(result.status(), result.ok() ? *result : 0);
      });
  if (receivers.ok() && *receivers == Router::kDeferred) return;
  (*shared_done)(receivers.status(), receivers.ok() ? *receivers : 0);
}

absl::Status BrokerServer::ReadHistoryFromApi(const v1::HistoryQuery& query,
                                              v1::HistoryReply* reply) {
  return ReadHistory(history_.get(), query, options_.max_channel_name_bytes,
                     reply);
}

// Member events go to this broker's own subscribers of the group's
// channel, never through a publish: they are no message (no history
// offset, not stored, not forwarded to other brokers).
void BrokerServer::TellMembers(const std::string& group, std::string payload,
                               const char* codec, const std::string& user) {
  v1::Envelope envelope;
  v1::Event* event = envelope.mutable_event();
  event->set_channel(GroupChannel(group));
  event->set_payload(std::move(payload));
  event->mutable_meta()->set_payload_codec(codec);
  if (!user.empty()) event->mutable_meta()->set_sender(user);
  router_.DeliverRemote(envelope);
}

void BrokerServer::ResyncMemberLists() {
  if (options_.presence.empty()) return;
  // Every presence group this broker's clients subscribe to, members or
  // none (an empty list says everyone left).
  std::vector<std::string> groups;
  router_.ForEachChannel([&](const std::string& channel) {
    if (options_.presence.ForChannel(channel) != nullptr) {
      groups.push_back(channel.substr(strlen(kGroupChannelPrefix)));
    }
  });
  for (const std::string& group : groups) {
    TellMembers(group, MemberListJson(presence_.table().Members(group)),
                kMembersCodec, "");
  }
  const size_t count = groups.size();
  spdlog::info(
      "presence settled (restart grace over, or the cluster in sync): sent "
      "the member lists of {} presence group(s) to their subscribers",
      count);
}

}  // namespace channel
