#ifndef CHANNEL_BROKER_METRICS_BROKER_METRICS_H_
#define CHANNEL_BROKER_METRICS_BROKER_METRICS_H_

#include <cstddef>

#include "broker/app/webhook_sink.h"
#include "broker/cluster/cluster_node.h"
#include "broker/metrics/broker_stats.h"
#include "broker/php/php_bridge.h"
#include "broker/php/work_queues.h"
#include "broker/presence/presence_table.h"
#include "broker/routing/router.h"
#include "common/ops/prometheus_text.h"

namespace channel {

// What the broker's /metrics is made of (read on the broker's thread).
struct BrokerMetricsInputs {
  const BrokerStats& stats;
  size_t sessions;  // open connections
  size_t pending;   // connections that have not said Hello
  const Router& router;
  const WorkQueues& queues;
  const PhpBridge& bridge;
  const PresenceTable& presence;
  const ClusterNode* cluster;  // null when standalone
  const WebhookSink* webhook;  // null without --webhook_url
};

// Appends the broker's series (channel_broker_*, docs/PROTOCOL.md).
void AppendBrokerMetrics(const BrokerMetricsInputs& in, PrometheusText* m);

}  // namespace channel

#endif  // CHANNEL_BROKER_METRICS_BROKER_METRICS_H_
