#ifndef CHANNEL_BROKER_API_BROKER_HOP_H_
#define CHANNEL_BROKER_API_BROKER_HOP_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"

namespace channel {

// Work handed from one event loop (the HTTP API's) to another (the
// broker's), its result handed back, and neither thread ever blocks:
// the work owns what it uses (its closure), runs at most once, and is
// cancelled if the broker loop has not started it within `wait`.
class BrokerHop {
 public:
  enum class Outcome {
    kRan,     // the work ran on the broker thread
    kNotRun,  // the wait passed first: the work never runs
  };

  BrokerHop(asio::io_context& api_io, asio::io_context& broker_io,
            std::chrono::milliseconds wait);
  ~BrokerHop();
  BrokerHop(const BrokerHop&) = delete;
  BrokerHop& operator=(const BrokerHop&) = delete;

  // On the API thread. `work` runs on the broker thread at most once; `done`
  // runs on the API thread exactly once (unless Stop comes first): kRan
  // after the work ran (however late: once started, it is waited for), or
  // kNotRun when `wait` passed before the broker loop started it. Neither
  // closure may hold asio objects of the API loop: the broker thread may
  // destroy `work`.
  void Call(std::function<void()> work, std::function<void(Outcome)> done);
  // The same for work that finishes later: `work` gets `finished`, which it
  // (or what it starts) must call exactly once, on the broker thread;
  // `done` (kRan) follows that call.
  using Finished = std::function<void()>;
  void CallAsync(std::function<void(Finished finished)> work,
                 std::function<void(Outcome)> done);

  // Results that arrive later are dropped and pending `done`s never run.
  // Call once no thread runs the API loop, or on it.
  void Stop();

 private:
  struct Shared;
  struct ReturnPath;
  struct Pending {
    std::shared_ptr<Shared> shared;
    std::unique_ptr<asio::steady_timer> timer;
    std::function<void(Outcome)> done;
  };
  void Finish(uint64_t id, Outcome outcome);
  void OnWaitOver(uint64_t id);

  asio::io_context& api_io_;
  asio::io_context& broker_io_;
  const std::chrono::milliseconds wait_;
  std::shared_ptr<ReturnPath> return_path_;
  // API thread only.
  absl::flat_hash_map<uint64_t, Pending> pending_;
  uint64_t next_id_ = 1;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_API_BROKER_HOP_H_
