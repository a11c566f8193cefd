#ifndef CHANNEL_BROKER_APP_CLIENT_ACTIONS_H_
#define CHANNEL_BROKER_APP_CLIENT_ACTIONS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "broker/routing/router.h"
#include "broker/routing/subscriber.h"
#include "common/app/action_json.h"

namespace channel {

// The broker acting on a gateway's connection for the HTTP API
// (POST /api/clients/{id}/..., GET /api/clients/{id}; docs/API.md): it
// publishes the action to the connection's node channel with reply_to set
// to an inbox of its own, which it subscribes like any client, and hands
// the gateway's result (the action result JSON) to the caller. Every call
// ends once: with the result, NotFound when no gateway worker holds the
// connection's node (standalone: nobody subscribes it), DeadlineExceeded
// when no result came within the timeout, or the publish's refusal.
// Bounded: at most kMaxPending actions wait at once (ResourceExhausted).
//
// On the broker's thread.
class ClientActions : public Subscriber {
 public:
  static constexpr size_t kMaxPending = 10000;
  using Done = std::function<void(absl::StatusOr<std::string> result)>;

  // `inbox`: a channel name no one else uses (the broker's id in it).
  ClientActions(asio::io_context& io, Router* router, std::string inbox,
                std::chrono::milliseconds timeout);
  ~ClientActions() override;

  // The inbox is subscribed on the first action (a broker whose API never
  // acts holds no channel for it).
  void Act(ActionRequest request, Done done);

  // Subscriber: a result in the inbox.
  bool Deliver(OutgoingEvent& event) override;

 private:
  struct Pending {
    Done done;
    std::unique_ptr<asio::steady_timer> timer;
  };
  void Finish(uint64_t ref, absl::StatusOr<std::string> result);

  asio::io_context& io_;
  Router* const router_;
  const std::string inbox_;
  const std::chrono::milliseconds timeout_;
  bool subscribed_ = false;
  uint64_t next_ref_ = 1;
  absl::flat_hash_map<uint64_t, Pending> pending_;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_APP_CLIENT_ACTIONS_H_
