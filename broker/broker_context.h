#ifndef CHANNEL_BROKER_BROKER_CONTEXT_H_
#define CHANNEL_BROKER_BROKER_CONTEXT_H_

#include <cstdint>
#include <string>

#include "broker/admission/restart_grace.h"
#include "broker/admission/source_policy.h"
#include "broker/broker_options.h"
#include "broker/metrics/broker_stats.h"
#include "broker/php/work_queues.h"
#include "broker/presence/presence_service.h"
#include "broker/routing/router.h"
#include "common/php/php_serialize.h"
#include "net/framed_stream.h"

namespace channel {

// A session's life as its owner sees it (BrokerServer).
class SessionHost : public FramedStream::FlushScheduler {
 public:
  // False while a cluster broker cannot reach NATS: a connection's first
  // frame is then answered CLUSTER_UNAVAILABLE.
  virtual bool ClusterReady() const = 0;
  // The session said its Hello (or its first PHP frame): no longer a
  // pending handshake.
  virtual void SessionEstablished(uint64_t id) = 0;
  // The session left the Router and closed its socket; the host destroys
  // it on a later loop turn (it may be calling this from its callback).
  virtual void OnSessionFinished(uint64_t id) = 0;
};

// What a session and its codec may use of the broker: its parts by
// reference, never the server (no service locator). Built by BrokerServer,
// outlives every session; broker thread only.
struct BrokerContext {
  const BrokerOptions& options;
  const std::string& broker_id;
  BrokerStats& stats;
  Router& router;
  WorkQueues& work_queues;      // PHP queues
  PresenceService& presence;    // gateways' reports and queries
  RestartGrace& grace;          // publishes refused after a restart
  const SourcePolicy& sources;  // PHP allow-list, pre-Hello frame bound
  const PhpLimits& php_limits;  // PHP bodies' depth and size
  SessionHost& host;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_BROKER_CONTEXT_H_
