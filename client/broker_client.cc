#include "client/broker_client.h"

#include <utility>

#include "client/broker_client_impl.h"

namespace channel {

BrokerClient::BrokerClient(asio::io_context& io, BrokerClientOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

BrokerClient::~BrokerClient() { impl_->Stop(); }

void BrokerClient::set_event_handler(EventHandler handler) {
  impl_->event_handler_ = std::move(handler);
}
void BrokerClient::set_state_handler(StateHandler handler) {
  impl_->state_handler_ = std::move(handler);
}
void BrokerClient::set_quiet_failure_handler(QuietFailureHandler handler) {
  impl_->quiet_failure_handler_ = std::move(handler);
}
void BrokerClient::set_subscription_lost_handler(
    SubscriptionLostHandler handler) {
  impl_->lost_handler_ = std::move(handler);
}
void BrokerClient::set_quiet_confirmed_handler(QuietConfirmedHandler handler) {
  impl_->quiet_confirmed_handler_ = std::move(handler);
}
void BrokerClient::set_stream_handler(StreamHandler handler) {
  impl_->stream_handler_ = std::move(handler);
}
void BrokerClient::set_channel_source(const ChannelSource* source) {
  impl_->source_ = source;
}
void BrokerClient::Start() { impl_->Start(); }
void BrokerClient::Stop() { impl_->Stop(); }
void BrokerClient::SubscribeQueue(const std::string& group,
                                  const std::vector<std::string>& channels,
                                  Done done) {
  impl_->SubscribeQueue(group, channels, std::move(done));
}
void BrokerClient::UnsubscribeQueue(const std::string& group,
                                    const std::vector<std::string>& channels,
                                    Done done) {
  impl_->UnsubscribeQueue(group, channels, std::move(done));
}
void BrokerClient::Subscribe(const std::vector<std::string>& channels,
                             Done done) {
  impl_->Subscribe(channels, std::move(done));
}
void BrokerClient::Unsubscribe(const std::vector<std::string>& channels,
                               Done done) {
  impl_->Unsubscribe(channels, std::move(done));
}
absl::Status BrokerClient::Publish(const std::vector<std::string>& channels,
                                   absl::string_view payload,
                                   const v1::Metadata* meta, Done done,
                                   bool no_echo) {
  return impl_->Publish(channels, payload, meta, std::move(done), no_echo);
}
absl::Status BrokerClient::PublishQuiet(
    const std::vector<std::string>& channels, absl::string_view payload,
    const v1::Metadata* meta, uint64_t tag, bool no_echo) {
  return impl_->PublishQuiet(channels, payload, meta, tag, no_echo);
}
absl::Status BrokerClient::SendPresence(const v1::Presence& presence) {
  return impl_->SendPresence(presence);
}
void BrokerClient::QueryPresence(const std::string& group, PresenceDone done) {
  impl_->QueryPresence(group, std::move(done));
}
void BrokerClient::QueryHistory(const v1::HistoryQuery& query,
                                HistoryDone done) {
  impl_->QueryHistory(query, std::move(done));
}
void BrokerClient::set_welcomed_handler(WelcomedHandler handler) {
  impl_->welcomed_handler_ = std::move(handler);
}
void BrokerClient::SendPresence(v1::Presence presence, Done done) {
  impl_->SendPresence(std::move(presence), std::move(done));
}
bool BrokerClient::keeps_events() const { return impl_->keeps_events(); }

const PresenceRules& BrokerClient::presence_rules() const {
  return impl_->presence_rules();
}
const HistoryRules& BrokerClient::history_rules() const {
  return impl_->history_rules();
}
bool BrokerClient::HoldsAlone(absl::string_view channel) const {
  return impl_->HoldsAlone(channel);
}
size_t BrokerClient::held_alone_count() const {
  return impl_->held_alone_count();
}
bool BrokerClient::connected() const { return impl_->connected(); }
size_t BrokerClient::subscription_count() const {
  return impl_->subscription_count();
}
const BrokerClientStats& BrokerClient::stats() const { return impl_->stats(); }

}  // namespace channel
