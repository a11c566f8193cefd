#include "broker/app/client_actions.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/channel_names.h"
#include "rapidjson/document.h"

namespace channel {

ClientActions::ClientActions(asio::io_context& io, Router* router,
                             std::string inbox,
                             std::chrono::milliseconds timeout)
    : io_(io), router_(router), inbox_(std::move(inbox)), timeout_(timeout) {}

ClientActions::~ClientActions() { router_->RemoveAll(this); }

void ClientActions::Act(ActionRequest request, Done done) {
  if (!subscribed_) {
    v1::Subscribe subscribe;
    subscribe.add_channels(inbox_);
    if (absl::Status s = router_->Subscribe(this, subscribe); !s.ok()) {
      done(s);
      return;
    }
    subscribed_ = true;
  }
  if (pending_.size() >= kMaxPending) {
    done(absl::ResourceExhaustedError(
        absl::StrCat(kMaxPending, " actions already wait for their gateway")));
    return;
  }
  const uint64_t ref = next_ref_++;
  request.reply_to = inbox_;
  request.ref = absl::StrCat(ref);
  absl::StatusOr<std::string> json = ActionJson(request);
  if (!json.ok()) {
    done(json.status());
    return;
  }
  const std::string node = AppNodeChannel(ClientNode(request.client));
  v1::Publish publish;
  publish.add_channels(node);
  publish.set_payload(*std::move(json));
  absl::StatusOr<uint64_t> receivers = router_->Publish(&publish);
  if (!receivers.ok()) {
    done(receivers.status());
    return;
  }
  // Nobody holding the node here nor (as far as this broker's complete view
  // of the cluster's interest says) on another broker: no gateway has the
  // client. Otherwise wait for its gateway's answer.
  if (*receivers == 0 && !router_->WantedElsewhere(node)) {
    done(absl::NotFoundError(
        "no gateway holds this client (it closed, its gateway is gone, or "
        "its gateway is between two broker links: retry to be sure)"));
    return;
  }
  Pending& p = pending_[ref];
  p.done = std::move(done);
  p.timer = std::make_unique<asio::steady_timer>(io_, timeout_);
  p.timer->async_wait([this, ref](const std::error_code& ec) {
    if (ec) return;
    Finish(ref, absl::DeadlineExceededError(absl::StrCat(
                    "no gateway answered within ", timeout_.count(),
                    " ms (the client's gateway is gone or overloaded)")));
  });
}

bool ClientActions::Deliver(OutgoingEvent& event) {
  const std::string& payload = event.event().payload();
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(payload.data(), payload.size());
  if (doc.HasParseError() || !doc.IsObject()) return true;
  auto ref = doc.FindMember("ref");
  uint64_t n = 0;
  if (ref == doc.MemberEnd() || !ref->value.IsString() ||
      !absl::SimpleAtoi(ref->value.GetString(), &n)) {
    return true;
  }
  Finish(n, payload);
  return true;
}

void ClientActions::Finish(uint64_t ref, absl::StatusOr<std::string> result) {
  auto it = pending_.find(ref);
  if (it == pending_.end()) return;
  Done done = std::move(it->second.done);
  it->second.timer->cancel();
  pending_.erase(it);
  done(std::move(result));
}

}  // namespace channel
