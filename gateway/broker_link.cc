#include "gateway/broker_link.h"

#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "common/logging.h"
#include "gateway/worker.h"

namespace channel {

BrokerLink::BrokerLink(asio::io_context& io, BrokerClientOptions options,
                       std::string gateway_id)
    : io_(io),
      client_(io, std::move(options)),
      gateway_id_(std::move(gateway_id)) {
  client_.set_event_handler([this](v1::Event& event) { OnEvent(event); });
  client_.set_state_handler([this](bool connected, absl::string_view reason) {
    OnState(connected, reason);
  });
}

void BrokerLink::Start() {
  pending_.resize(workers_.size());
  // Every connection receives send_to_all, so the broadcast channel is held
  // for the life of the process.
  client_.Subscribe({kBroadcastChannel});
  client_.Start();
}

void BrokerLink::Stop() {
  up_.store(false, std::memory_order_release);
  client_.Stop();
}

void BrokerLink::OnState(bool connected, absl::string_view reason) {
  if (connected) {
    // Connected means every held channel was re-subscribed and acknowledged.
    for (auto& [group, state] : groups_) {
      if (!state.live) MarkLive(group, absl::OkStatus());
    }
    up_.store(true, std::memory_order_release);
    spdlog::info("broker link up; {} group(s) subscribed", groups_.size());
  } else {
    up_.store(false, std::memory_order_release);
    for (auto& [group, state] : groups_) state.live = false;
    spdlog::warn("broker link down: {}", reason);
  }
}

void BrokerLink::MarkLive(const std::string& group, const absl::Status& status,
                          uint64_t epoch) {
  auto it = groups_.find(group);
  // An Ack for an earlier subscription of a group since left and re-joined
  // says nothing about the current one.
  if (it == groups_.end() || (epoch != 0 && epoch != it->second.epoch)) return;
  it->second.live = status.ok();
  auto waiters = std::move(it->second.waiters);
  it->second.waiters.clear();
  for (auto& done : waiters) done(status);
}

void BrokerLink::AddInterest(int worker, const std::string& group, Done done) {
  auto [it, inserted] = groups_.try_emplace(group);
  it->second.worker_mask |= uint64_t{1} << worker;
  if (inserted) {
    const uint64_t epoch = it->second.epoch = next_epoch_++;
    client_.Subscribe(
        {absl::StrCat(kGroupChannelPrefix, group)},
        [this, group, epoch](const absl::Status& status, uint64_t) {
          // A failure while the link is down is repaired by the
          // re-subscription on reconnect (OnState).
          MarkLive(group, status, epoch);
        });
  }
  if (done) WhenLive(group, std::move(done));
}

void BrokerLink::WhenLive(const std::string& group, Done done) {
  auto it = groups_.find(group);
  if (it == groups_.end()) {
    done(absl::FailedPreconditionError("no local member"));
  } else if (it->second.live) {
    done(absl::OkStatus());
  } else if (!up()) {
    done(absl::UnavailableError("the broker link is down"));
  } else {
    it->second.waiters.push_back(std::move(done));
  }
}

void BrokerLink::RemoveInterest(int worker, const std::string& group) {
  auto it = groups_.find(group);
  if (it == groups_.end()) return;
  it->second.worker_mask &= ~(uint64_t{1} << worker);
  if (it->second.worker_mask != 0) return;
  auto waiters = std::move(it->second.waiters);
  groups_.erase(it);
  for (auto& done : waiters) done(absl::OkStatus());
  client_.Unsubscribe({absl::StrCat(kGroupChannelPrefix, group)});
}

void BrokerLink::Publish(const std::string* group, std::string message,
                         std::vector<uint64_t> exclude, Done done) {
  v1::Metadata meta;
  meta.set_origin(gateway_id_);
  for (uint64_t id : exclude) meta.add_exclude(id);
  const std::string channel = group != nullptr
                                  ? absl::StrCat(kGroupChannelPrefix, *group)
                                  : std::string(kBroadcastChannel);
  BrokerClient::Done on_ack;
  if (done) {
    on_ack = [done](const absl::Status& status, uint64_t) { done(status); };
  }
  absl::Status s = client_.Publish({channel}, message, &meta, on_ack);
  if (!s.ok() && done) done(s);
}

void BrokerLink::OnEvent(v1::Event& event) {
  ++events_received_;
  Delivery delivery;
  uint64_t mask = 0;
  switch (ParseBrokerChannel(event.channel(), &delivery.group)) {
    case ChannelKind::kBroadcast:
      delivery.to_all = true;
      mask = workers_.size() >= 64 ? ~uint64_t{0}
                                   : (uint64_t{1} << workers_.size()) - 1;
      break;
    case ChannelKind::kGroup: {
      auto it = groups_.find(delivery.group);
      if (it == groups_.end()) return;  // last member left meanwhile
      mask = it->second.worker_mask;
      break;
    }
    case ChannelKind::kOther:
      return;
  }
  if (event.meta().origin() == gateway_id_) {
    delivery.exclude.assign(event.meta().exclude().begin(),
                            event.meta().exclude().end());
  }
  delivery.payload =
      std::make_shared<const std::string>(std::move(*event.mutable_payload()));
  for (size_t w = 0; w < workers_.size(); ++w) {
    if (mask & (uint64_t{1} << w)) pending_[w].push_back(delivery);
  }
  if (!flush_posted_) {
    // Everything decoded in this pass goes to each worker in one post.
    flush_posted_ = true;
    asio::post(io_, [this] { FlushDeliveries(); });
  }
}

void BrokerLink::FlushDeliveries() {
  flush_posted_ = false;
  for (size_t w = 0; w < workers_.size(); ++w) {
    if (pending_[w].empty()) continue;
    workers_[w]->PostDeliveries(std::move(pending_[w]));
    pending_[w] = {};
  }
}

}  // namespace channel
