#include "broker/codec/php_codec.h"

#include "absl/strings/str_cat.h"
#include "broker/broker_context.h"
#include "broker/session.h"
#include "common/channel_names.h"
#include "common/logging/log_limiter.h"
#include "common/logging/logging.h"

namespace channel {
namespace {

const PhpValue kNull;  // 'data' missing: PHP reads it as null

}  // namespace

void PhpCodec::OnBody(absl::string_view body) {
  BrokerContext& ctx = session_->context();
  BrokerStats& stats = ctx.stats;
  absl::StatusOr<PhpValue> parsed = ParsePhp(body, ctx.php_limits);
  if (!parsed.ok() || parsed->kind != PhpValue::Kind::kArray) {
    ++stats.php_bad_bodies;
    const absl::string_view error =
        parsed.ok() ? "the body is not an array" : parsed.status().message();
    session_->Close(
        v1::Error::PROTOCOL_ERROR,
        absl::StrCat("malformed PHP body of ", body.size(), " bytes: ", error),
        false, "php_bad_body");
    return;
  }
  body_ = *std::move(parsed);
  const PhpValue* type_value = body_.Find("type");
  const absl::string_view type =
      type_value != nullptr && type_value->kind == PhpValue::Kind::kString
          ? type_value->str
          : absl::string_view();
  Router& router = ctx.router;
  WorkQueues& queues = ctx.work_queues;
  if (type == "subscribe" || type == "unsubscribe") {
    if (!ReadChannels(body_)) return;
    v1::Subscribe request;  // same field layout for both
    for (auto& c : channels_) request.add_channels(std::move(c));
    absl::Status s;
    if (type == "subscribe") {
      s = router.Subscribe(session_, request);
    } else {
      v1::Unsubscribe unsubscribe;
      unsubscribe.mutable_channels()->Swap(request.mutable_channels());
      s = router.Unsubscribe(session_, unsubscribe);
    }
    if (!s.ok()) return Refused(type, s.message());
  } else if (type == "publish" || type == "publishLoop") {
    if (!ReadChannels(body_)) return;
    Publish(body_, type == "publishLoop");
  } else if (type == "watch" || type == "unwatch") {
    if (!ReadChannels(body_)) return;
    if (channels_.size() > ctx.options.max_channels_per_request) {
      return Refused(type, "too many channels in one request");
    }
    for (const std::string& channel : channels_) {
      if (channel == kAppEventsChannel) {
        if (absl::Status s = WatchEvents(type == "watch"); !s.ok()) {
          return Refused(type, s.message());
        }
        continue;
      }
      if (type == "watch") {
        if (queues.WatchCount(this) >=
            ctx.options.max_channels_per_connection) {
          return Refused(type, "too many queues watched by one connection");
        }
        queues.Watch(this, channel);
      } else {
        queues.Unwatch(this, channel);
      }
    }
  } else if (type == "enqueue") {
    if (!ReadChannels(body_)) return;
    if (channels_.size() > ctx.options.max_channels_per_request) {
      return Refused(type, "too many channels in one request");
    }
    const PhpValue* data = body_.Find("data");
    const absl::string_view raw = data != nullptr ? data->raw : "N;";
    for (const std::string& channel : channels_) {
      switch (queues.Enqueue(channel, raw)) {
        case WorkQueues::EnqueueResult::kQueued:
          break;
        case WorkQueues::EnqueueResult::kQueueFull:
          ++stats.php_queue_rejected;
          Refused(type, absl::StrCat("queue '", channel.substr(0, 64),
                                     "' is full (--php_max_queue_items)"));
          break;
        case WorkQueues::EnqueueResult::kTooManyQueues:
          ++stats.php_queue_rejected;
          Refused(type, "too many queues (--php_max_queues)");
          break;
        case WorkQueues::EnqueueResult::kNoMemory:
          ++stats.php_queue_rejected;
          Refused(type, "queues hold --php_max_queue_bytes already");
          break;
        case WorkQueues::EnqueueResult::kTooManyItems:
          ++stats.php_queue_rejected;
          Refused(type, "queues hold --php_max_queued_items already");
          break;
      }
    }
  } else if (type == "reserve") {
    queues.Reserve(this);
  } else {
    ++stats.php_commands.back();  // "unknown"
    return;
  }
  for (size_t i = 0; i + 1 < kPhpCommandTypes.size(); ++i) {
    if (type == kPhpCommandTypes[i]) ++stats.php_commands[i];
  }
}

bool PhpCodec::ReadChannels(const PhpValue& body) {
  channels_.clear();
  const PhpValue* list = body.Find("channels");
  if (list == nullptr || list->kind != PhpValue::Kind::kArray) {
    Refused("request", "no 'channels' array");
    return false;
  }
  for (const auto& item : list->items) {
    std::string name;
    if (!item.second.AsKeyText(&name)) {
      Refused("request", "a channel name is neither a string nor an integer");
      return false;
    }
    channels_.push_back(std::move(name));
  }
  return true;
}

void PhpCodec::Publish(const PhpValue& body, bool loop) {
  const PhpValue* data = body.Find("data");
  if (data == nullptr) data = &kNull;
  v1::Publish& request = publish_;  // reused: its strings keep capacity
  request.Clear();
  for (const std::string& c : channels_) request.add_channels(c);
  if (data->kind == PhpValue::Kind::kString) {
    request.set_payload(data->str.data(), data->str.size());
  } else {
    request.set_payload(data->raw.data(), data->raw.size());
    request.mutable_meta()->set_payload_codec("php");
  }
  Router& router = session_->context().router;
  absl::StatusOr<uint64_t> receivers =
      loop ? router.PublishLoop(&request) : router.Publish(&request, session_);
  if (!receivers.ok()) {
    Refused(loop ? "publishLoop" : "publish", receivers.status().message());
    return;
  }
}

absl::Status PhpCodec::WatchEvents(bool watch) {
  Router& router = session_->context().router;
  if (watch) {
    v1::Subscribe request;
    request.add_channels(kAppEventsChannel);
    request.set_queue_group(kWatchGroup);
    return router.Subscribe(session_, request);
  }
  v1::Unsubscribe request;
  request.add_channels(kAppEventsChannel);
  request.set_queue_group(kWatchGroup);
  return router.Unsubscribe(session_, request);
}

SharedFrame PhpCodec::QueuedEventFrame(OutgoingEvent& event,
                                       const std::string& group) {
  if (group == kWatchGroup && event.event().channel() == kAppEventsChannel) {
    return OutgoingEvent::EncodePhpMessage("queue", event.event());
  }
  return event.PhpFrame();
}

void PhpCodec::Refused(absl::string_view type, absl::string_view why) {
  session_->CountError(v1::Error::LIMIT_EXCEEDED, "php_refused");
  CHANNEL_LOG_LIMITED(spdlog::level::warn,
                      "conn {} from {} (PHP): {} refused: {}", session_->id(),
                      session_->peer(), type, why);
}

bool PhpCodec::SendQueueItem(absl::string_view queue, absl::string_view data) {
  v1::Event item;
  item.set_channel(queue.data(), queue.size());
  item.set_payload(data.data(), data.size());
  item.mutable_meta()->set_payload_codec("php");
  return session_->TrySend(OutgoingEvent::EncodePhpMessage("queue", item));
}

void PhpCodec::OnClose() { session_->context().work_queues.RemoveAll(this); }

}  // namespace channel
