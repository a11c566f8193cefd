#ifndef CHANNEL_GATEWAY_FANOUT_FANOUT_WRITER_H_
#define CHANNEL_GATEWAY_FANOUT_FANOUT_WRITER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "gateway/fanout/fanout_batch.h"
#include "gateway/fanout/membership.h"
#include "gateway/fanout/recoveries.h"
#include "gateway/worker_stats.h"
#include "gateway/ws/ws_connection.h"

namespace channel {

// Writes one loop turn's fan-out (a built FanoutBatch) to the local
// recipients of each target.
//
// Contracts:
//  - every recipient of a segment gets the same bytes: a connection writes
//    them straight to its socket (wss: to its TLS session) when nothing is
//    queued, else queues one buffer shared by every recipient that has to
//    wait (SharedFrame, made once per segment);
//  - a recipient with more than `max_queued_bytes` already queued is handed
//    to `on_slow` (the worker closes it) and gets nothing more;
//  - connections that are closing or not open get nothing.
// Worker thread only.
class FanoutWriter {
 public:
  using Connections =
      absl::flat_hash_map<uint64_t, std::shared_ptr<WsConnection>>;

  // `stats` outlives the writer; `on_slow` closes a slow connection.
  FanoutWriter(size_t max_queued_bytes, WorkerStats* stats,
               std::function<void(WsConnection*)> on_slow)
      : max_queued_bytes_(max_queued_bytes),
        stats_(stats),
        on_slow_(std::move(on_slow)) {}

  // Sends every live segment of `batch`: to every connection in `all` for
  // a to-all target, else to the members `membership` lists.
  // Members whose deliveries of a group `recoveries` holds are skipped.
  void Write(const FanoutBatch& batch, const Membership& membership,
             const Connections& all, const Recoveries& recoveries);

 private:
  void Send(WsConnection* con, const std::string& frames, uint64_t count,
            SharedFrame* shared);

  const size_t max_queued_bytes_;
  WorkerStats* const stats_;
  const std::function<void(WsConnection*)> on_slow_;
  std::vector<WsConnection*> recipients_;  // scratch, reused
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_FANOUT_FANOUT_WRITER_H_
