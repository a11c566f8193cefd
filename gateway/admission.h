#ifndef CHANNEL_GATEWAY_ADMISSION_H_
#define CHANNEL_GATEWAY_ADMISSION_H_

#include <string>

#include "absl/strings/string_view.h"
#include "gateway/connection_data.h"
#include "gateway/gateway_options.h"
#include "gateway/worker_stats.h"

namespace channel {

// Who may open a WebSocket: the pending-handshake cap (slow-loris), the
// process-wide connection cap, allowed origins and shutdown. Pure policy
// over ConnectionData and the shared GatewayLimits; the worker applies the
// answers to websocketpp. One per worker, on its thread; GatewayLimits is
// shared between workers through atomics (touched once per connection,
// never per message).
class Admission {
 public:
  Admission(const GatewayOptions& options, GatewayLimits* limits,
            WorkerStats* stats)
      : options_(options), limits_(limits), stats_(stats) {}

  // TCP accepted. False: over --max_pending_handshakes; drop the socket
  // (the handshake then fails and EndPending runs).
  bool OnAccepted(ConnectionData* con);
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
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_ADMISSION_H_
