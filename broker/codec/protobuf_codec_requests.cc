#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "broker/broker_context.h"
#include "broker/codec/protobuf_codec.h"
#include "broker/history/history_replay.h"
#include "broker/session.h"
#include "common/channel_names.h"
#include "common/framing/envelope_codec.h"
#include "common/presence/member_json.h"

// The protobuf codec's requests: history reads, subscribes (with a
// presence group's member list) and publishes with their Acks.
namespace channel {

void ProtobufCodec::AnswerHistory(const v1::HistoryQuery& query) {
  v1::Envelope reply;
  v1::HistoryReply* history = reply.mutable_history_reply();
  history->set_request_id(query.request_id());
  if (absl::Status s = ReadHistory(
          session_->context().router.history(), query,
          session_->context().options.max_channel_name_bytes, history);
      !s.ok()) {
    ReplyError(ErrorCodeFromStatus(s), s.message(), query.request_id());
    return;
  }
  Reply(reply);
}

void ProtobufCodec::HandleSubscribe(const v1::Subscribe& request) {
  const uint64_t request_id = request.request_id();
  Router& router = session_->context().router;
  if (request.since_size() > request.channels_size()) {
    ReplyError(v1::Error::INVALID_REQUEST, "more since positions than channels",
               request_id);
    return;
  }
  // The Ack: with the request's history positions, known once subscribed.
  auto ack = std::make_shared<v1::Envelope>();
  ack->mutable_ack()->set_request_id(request_id);
  std::function<void()> ack_later;
  if (request_id != 0) {
    // Runs inside a Router call once the channels' grants are released or
    // the cluster's brokers applied the interest: the Ack goes out from a
    // handler of its own. It may run after this session is gone (a
    // cluster's wait outlives it): the executor is taken now, and `this`
    // is touched only while `alive`.
    ack_later = [this, alive = alive_, ack, executor = session_->executor()] {
      asio::post(executor, [this, alive, ack] {
        if (*alive) Reply(*ack);
      });
    };
  }
  bool waiting = false;
  absl::Status s =
      router.Subscribe(session_, request, std::move(ack_later), &waiting);
  if (!s.ok()) {
    ReplyError(ErrorCodeFromStatus(s), s.message(), request_id);
    return;
  }
  // Same turn: what a since asks for is queued before any live event.
  ResumeStreams(router.history(), session_, request,
                ack->mutable_ack()->mutable_streams());
  SendMemberLists(request);
  if (request_id != 0 && !waiting) Reply(*ack);
}

// A subscriber of a presence group gets its member list before the Ack
// and before any later member event (docs/PROTOCOL.md "Presence members").
// While a restart's grace runs, or a cluster's brokers are not in sync, the
// list may lack members: it says so (key "partial"); the whole lists go to
// every subscriber when that ends.
void ProtobufCodec::SendMemberLists(const v1::Subscribe& request) {
  const PresenceService& presence = session_->context().presence;
  if (presence.rules().empty() || !request.queue_group().empty()) return;
  for (const std::string& channel : request.channels()) {
    if (presence.rules().ForChannel(channel) == nullptr) continue;
    v1::Envelope envelope;
    v1::Event* event = envelope.mutable_event();
    event->set_channel(channel);
    event->set_payload(MemberListJson(presence.table().Members(
        absl::string_view(channel).substr(strlen(kGroupChannelPrefix)))));
    event->mutable_meta()->set_payload_codec(kMembersCodec);
    if (presence.partial()) event->mutable_meta()->set_key("partial");
    Reply(envelope);
  }
}

void ProtobufCodec::HandlePublish(v1::Publish* request) {
  const uint64_t request_id = request->request_id();
  const bool cumulative = request->cumulative_ack();
  // PHP subscribers receive a "php" payload as it is, inside their frame:
  // it must be one well-formed value, or one protobuf client could break
  // every PHP subscriber's stream.
  const std::string& codec = request->meta().payload_codec();
  if (!codec.empty()) {
    if (codec != "php") {
      ReplyError(v1::Error::INVALID_REQUEST,
                 "payload_codec must be empty or \"php\"", request_id);
      return;
    }
    if (absl::StatusOr<PhpValue> value =
            ParsePhp(request->payload(), session_->context().php_limits);
        !value.ok()) {
      ReplyError(v1::Error::INVALID_REQUEST,
                 absl::StrCat("payload_codec php: ", value.status().message()),
                 request_id);
      return;
    }
  }
  if (absl::Status s = session_->context().grace.Check(); !s.ok()) {
    ReplyError(ErrorCodeFromStatus(s), s.message(), request_id);
    return;
  }
  const size_t deferred_max =
      session_->IsLink() ? kMaxDeferredLink : kMaxDeferredClient;
  if (deferred_.size() + deferred_untracked_ >= deferred_max) {
    ReplyError(v1::Error::BACKPRESSURE,
               absl::StrCat(deferred_max,
                            " publishes of this connection already await "
                            "the cluster's history store: nothing was "
                            "published, retry shortly"),
               request_id);
    return;
  }
  absl::StatusOr<uint64_t> receivers = session_->context().router.Publish(
      request, session_,
      [this, alive = alive_, request_id,
       cumulative](const absl::StatusOr<uint64_t>& result) {
        if (*alive) PublishDone(request_id, cumulative, result);
      });
  if (receivers.ok() && *receivers == Router::kDeferred) {
    if (request_id != 0) {
      deferred_.insert(request_id);
    } else {
      ++deferred_untracked_;
    }
    return;
  }
  if (!receivers.ok()) {
    ReplyError(ErrorCodeFromStatus(receivers.status()),
               receivers.status().message(), request_id);
  } else if (request_id != 0) {
    if (cumulative) {
      if (request_id > cumulative_due_) cumulative_due_ = request_id;
      session_->RequestFlush();
    } else {
      Ack(request_id, *receivers);
    }
  }
}

void ProtobufCodec::PublishDone(uint64_t request_id, bool cumulative,
                                const absl::StatusOr<uint64_t>& result) {
  if (request_id == 0) {
    if (deferred_untracked_ > 0) --deferred_untracked_;
    return;
  }
  deferred_.erase(request_id);
  if (!result.ok()) {
    ReplyError(ErrorCodeFromStatus(result.status()), result.status().message(),
               request_id);
  } else if (cumulative) {
    if (request_id > cumulative_due_) cumulative_due_ = request_id;
  } else {
    Ack(request_id, *result);
  }
  // A cumulative Ack held back for this one may go now.
  session_->RequestFlush();
}

}  // namespace channel
