#ifndef CHANNEL_GATEWAY_AUTH_ADMISSION_H_
#define CHANNEL_GATEWAY_AUTH_ADMISSION_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "gateway/connection_data.h"
#include "gateway/gateway_options.h"
#include "gateway/worker_stats.h"

namespace channel {

// Who may open a WebSocket: the pending-handshake caps (slow-loris), the
// process-wide connection cap, allowed origins and shutdown. Pure policy
// over ConnectionData and the shared GatewayLimits; the worker applies the
// answers. One per worker, on its thread; GatewayLimits is shared between
// workers (atomics, and a mutex for the per-source counts: touched once
// per connection, never per message).
//
// Pending handshakes (accepted, not yet upgraded): once half the
// process-wide budget is taken, at most --max_pending_handshakes_per_source
// from one source address (0: no such bound), refused past it, so one
// source cannot take the budget (while it is less than half taken, a
// source may hold more: clients behind one proxy share a source); at most
// --max_pending_handshakes in all, and past that the worker ends its own
// oldest pending connection to take the newcomer (an honest client
// upgrades in milliseconds, so what has waited longest is the likeliest
// attacker). Connections are spread over workers by the kernel
// (SO_REUSEPORT), so each worker's oldest is a fair stand-in for the
// process's; a worker with none of its own pending refuses the newcomer.
class Admission {
 public:
  Admission(const GatewayOptions& options, GatewayLimits* limits,
            WorkerStats* stats)
      : options_(options), limits_(limits), stats_(stats) {}

  enum class Accept {
    kAdmit,
    kShedOldest,  // over the process-wide bound: admit after ending the
                  // worker's oldest pending connection, else refuse
    kRefuse,      // over the bound of its source address
  };
  // TCP accepted from `source` (the address's bytes). The connection is
  // counted as pending whatever the answer: a refused one is dropped, its
  // handshake fails and EndPending runs.
  Accept OnAccepted(ConnectionData* con, const std::string& source);
  // The upgrade completed or failed: no longer pending.
  void EndPending(ConnectionData* con);

  struct Verdict {
    bool allowed = true;
    int http_status = 0;  // when refused
    std::string body;
  };
  // The upgrade request arrived. On success the connection holds one slot
  // of --max_connections (reserved before the 101 goes out, so a client
  // that sees its upgrade complete is already counted).
  Verdict Validate(ConnectionData* con, absl::string_view origin,
                   bool shutting_down);
  // Returns the connection's slot, if it holds one. Idempotent.
  void ReleaseSlot(ConnectionData* con);

 private:
  const GatewayOptions& options_;
  GatewayLimits* const limits_;
  WorkerStats* const stats_;
  // The source of each pending connection, to uncount it.
  absl::flat_hash_map<ConnectionData*, std::string> pending_sources_;
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_AUTH_ADMISSION_H_
