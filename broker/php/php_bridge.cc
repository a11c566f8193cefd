#include "broker/php/php_bridge.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/channel_names.h"

namespace channel {

void PhpBridge::OnPublished(const std::string& channel,
                            const v1::Event& event) {
  if (!enabled()) return;
  if (channel == group_channel_) {
    // The seed's ['group_id'=>G, 'message'=>M]: only PHP values have it.
    if (event.meta().payload_codec() != "php") return;
    if (absl::StatusOr<PhpValue> data = ParsePhp(event.payload(), limits_);
        data.ok()) {
      FromPhp(channel, *data);
    }
    return;
  }
  FromChannel(channel, event.payload());
}

bool PhpBridge::Needs(absl::string_view channel) const {
  return enabled() && IsGroupChannel(channel) &&
         router_->HasSubscribers(group_channel_);
}

void PhpBridge::FromPhp(absl::string_view channel, const PhpValue& data) {
  if (!enabled() || channel != group_channel_) return;
  const PhpValue* group = data.Find("group_id");
  const PhpValue* message = data.Find("message");
  std::string group_id;
  if (group == nullptr || message == nullptr || !group->AsKeyText(&group_id) ||
      group_id.empty()) {
    return;  // not the seed's shape: nothing to bridge
  }
  v1::Publish publish;
  publish.add_channels(absl::StrCat(kGroupChannelPrefix, group_id));
  if (message->kind == PhpValue::Kind::kString) {
    publish.set_payload(message->str.data(), message->str.size());
  } else {
    publish.set_payload(PhpToJson(*message));
  }
  if (router_->Publish(&publish).ok()) ++to_groups_;
}

void PhpBridge::FromChannel(absl::string_view channel,
                            absl::string_view message) {
  absl::string_view group = channel;
  if (!enabled() || !absl::ConsumePrefix(&group, kGroupChannelPrefix) ||
      !router_->HasSubscribers(group_channel_)) {
    return;
  }
  std::string data = "a:2:{s:8:\"group_id\";";
  AppendPhpKey(group, &data);
  data.append("s:7:\"message\";");
  AppendPhpString(message, &data);
  data.append("}");
  v1::Publish publish;
  publish.add_channels(group_channel_);
  publish.set_payload(std::move(data));
  publish.mutable_meta()->set_payload_codec("php");
  if (router_->Publish(&publish).ok()) ++to_php_;
}

}  // namespace channel
