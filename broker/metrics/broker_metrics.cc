#include "broker/metrics/broker_metrics.h"

#include "common/logging/log_limiter.h"

namespace channel {

void AppendBrokerMetrics(const BrokerMetricsInputs& in, PrometheusText* m) {
  m->Gauge("channel_broker_connections", "Open client connections.",
           static_cast<double>(in.sessions));
  m->Counter("channel_broker_connections_accepted_total",
             "Connections accepted.", in.stats.connections_accepted);
  m->Counter("channel_broker_connections_rejected_total",
             "Connections refused over --max_connections.",
             in.stats.connections_rejected);
  m->Counter("channel_broker_connections_closed_total", "Connections closed.",
             in.stats.connections_closed);
  m->Counter("channel_broker_drain_moves_total",
             "Clients asked to move to another broker (GoAway) while this "
             "broker drained.",
             in.stats.drain_moves);
  m->Counter("channel_broker_drain_closes_total",
             "Clients closed at their turn of the drain: their codec cannot "
             "be asked to move (PHP), or they had not said Hello.",
             in.stats.drain_closes);
  m->Counter("channel_broker_handshakes_total", "Successful Hello handshakes.",
             in.stats.handshakes);
  m->Gauge("channel_broker_pending_handshakes",
           "Connections that have not said their Hello yet.",
           static_cast<double>(in.pending));
  m->Counter("channel_broker_pending_handshakes_shed_total",
             "Connections closed because more than --max_pending_handshakes "
             "were waiting to say Hello (the oldest first).",
             in.stats.pending_handshakes_shed);
  m->Counter("channel_broker_auth_failures_total",
             "Connections refused for a missing or wrong token or no Hello.",
             in.stats.auth_failures);
  m->Gauge("channel_broker_channels", "Channels with at least one subscriber.",
           static_cast<double>(in.router.channel_count()));
  m->Gauge("channel_broker_subscriptions",
           "Channel subscriptions over all connections.",
           static_cast<double>(in.router.subscription_count()));
  const SoleInterest& sole = in.router.sole_interest();
  m->Gauge("channel_broker_sole_grants",
           "Channels held by their only subscriber (sole interest).",
           static_cast<double>(sole.grants()));
  m->Counter("channel_broker_sole_grants_total", "Sole-interest grants given.",
             sole.granted_total());
  m->Counter("channel_broker_sole_revokes_total",
             "Sole-interest grants revoked (another subscriber, or the holder "
             "left).",
             sole.revoked_total());
  m->Counter("channel_broker_frames_received_total",
             "Frames received, heartbeats included.",
             in.stats.stream.frames_in);
  m->Counter("channel_broker_frames_sent_total",
             "Frames queued to connections, heartbeats included.",
             in.stats.stream.frames_out);
  m->Counter("channel_broker_bytes_received_total", "Bytes read from clients.",
             in.stats.stream.bytes_in);
  m->Counter("channel_broker_bytes_sent_total", "Bytes written to clients.",
             in.stats.stream.bytes_out);
  m->Counter("channel_broker_heartbeats_received_total",
             "Heartbeat frames received.", in.stats.stream.heartbeats_in);
  m->Counter("channel_broker_publishes_total", "Publish requests routed.",
             in.stats.publishes);
  m->Counter("channel_broker_publishes_refused_total",
             "Publishes refused before anything was delivered, by reason.",
             in.stats.publishes_refused_too_large, {{"reason", "too_large"}});
  m->Counter("channel_broker_publishes_refused_total",
             "Publishes refused before anything was delivered, by reason.",
             in.stats.publishes_refused_backpressure,
             {{"reason", "backpressure"}});
  m->Counter("channel_broker_publishes_refused_total",
             "Publishes refused before anything was delivered, by reason.",
             in.stats.publishes_refused_restarting, {{"reason", "restarting"}});
  m->Counter("channel_broker_events_delivered_total",
             "Event frames queued to subscribers.", in.stats.events_delivered);
  m->Counter("channel_broker_queue_events_dropped_total",
             "Events of a queue group channel that no member of one of its "
             "groups could take.",
             in.stats.queue_events_dropped);
  const KeptEvents& kept = in.router.kept_events();
  m->Gauge("channel_broker_events_kept",
           "Events nobody took, kept for their channel's first consumer "
           "(--events_keep_bytes).",
           static_cast<double>(kept.events()));
  m->Gauge("channel_broker_events_kept_bytes",
           "What the kept events cost, of --events_keep_bytes.",
           static_cast<double>(kept.bytes()));
  m->Counter("channel_broker_events_kept_total",
             "Events kept because nobody took them.", kept.kept_total());
  m->Counter("channel_broker_events_kept_delivered_total",
             "Kept events handed to a channel's first consumer.",
             kept.taken_total() - kept.undelivered());
  for (const auto& [reason, count] :
       {std::pair<const char*, uint64_t>{"full", kept.dropped_full()},
        {"expired", kept.dropped_expired()},
        {"undelivered", kept.undelivered()}}) {
    m->Counter("channel_broker_events_kept_dropped_total",
               "Kept events dropped: the oldest past --events_keep_bytes, "
               "older than --events_keep_ms, or no consumer could take them "
               "when their turn came.",
               count, {{"reason", reason}});
  }
  m->Gauge("channel_broker_queue_bindings",
           "Keys bound to a queue group member (Metadata.key).",
           static_cast<double>(in.router.queue_groups().bindings()));
  m->Counter("channel_broker_queue_unbound_picks_total",
             "Events whose key found the binding bound full and was hashed "
             "over the members instead.",
             static_cast<double>(in.router.queue_groups().unbound_picks()));
  if (const WebhookSink* w = in.webhook) {
    const WebhookSink::Counters& c = w->counters();
    auto get = [](const std::atomic<uint64_t>& v) {
      return static_cast<double>(v.load(std::memory_order_relaxed));
    };
    m->Counter("channel_broker_webhook_events_total",
               "Application events taken into the webhook queue.",
               get(c.queued));
    m->Counter("channel_broker_webhook_events_sent_total",
               "Events in batches the webhook answered 2xx.", get(c.sent));
    m->Counter("channel_broker_webhook_batches_total",
               "Batches the webhook answered 2xx.", get(c.batches));
    m->Counter("channel_broker_webhook_attempts_failed_total",
               "Webhook POSTs without a 2xx answer (each retry counts).",
               get(c.attempts_failed));
    m->Counter("channel_broker_webhook_events_dropped_total",
               "Events not delivered to the webhook, by reason.",
               get(c.dropped_queue_full), {{"reason", "queue_full"}});
    m->Counter("channel_broker_webhook_events_dropped_total",
               "Events not delivered to the webhook, by reason.",
               get(c.dropped_retries), {{"reason", "retries_exhausted"}});
    m->Gauge("channel_broker_webhook_queued_bytes",
             "Bytes of events waiting for the webhook.",
             static_cast<double>(c.waiting_bytes.load()));
  }
  m->Counter("channel_broker_slow_consumer_disconnects_total",
             "Connections closed for exceeding --max_queued_bytes.",
             in.stats.slow_consumer_disconnects);
  m->Counter("channel_broker_idle_timeouts_total",
             "Connections closed for silence past --idle_timeout_ms.",
             in.stats.idle_timeouts);
  for (const char* codec : {"protobuf", "php"}) {
    auto it = in.stats.connections_by_codec.find(codec);
    m->Gauge("channel_broker_connections_by_codec",
             "Open connections by the codec their first frame chose.",
             it == in.stats.connections_by_codec.end()
                 ? 0
                 : static_cast<double>(it->second),
             {{"codec", codec}});
  }
  for (size_t i = 0; i < kPhpCommandTypes.size(); ++i) {
    m->Counter("channel_broker_php_commands_total",
               "Workerman Channel (PHP) commands, by type.",
               static_cast<double>(in.stats.php_commands[i]),
               {{"type", kPhpCommandTypes[i]}});
  }
  m->Counter("channel_broker_php_bad_bodies_total",
             "PHP bodies that did not parse (the connection was closed).",
             in.stats.php_bad_bodies);
  m->Counter("channel_broker_php_refused_total",
             "PHP clients refused for their source address.",
             in.stats.php_refused);
  if (const HistoryStore* h = in.router.history()) {
    const HistoryStats& s = h->stats();
    m->Gauge("channel_broker_history_bytes",
             "Memory history holds (events, streams, bookkeeping); bounded "
             "by --history_max_bytes.",
             static_cast<double>(h->bytes()));
    m->Gauge("channel_broker_history_streams",
             "Channels with a history stream (offsets).",
             static_cast<double>(h->stream_count()));
    m->Gauge("channel_broker_history_events", "Events kept in history.",
             static_cast<double>(h->entry_count()));
    m->Counter("channel_broker_history_appended_total",
               "Events given an offset.", s.appended);
    m->Counter("channel_broker_history_dropped_total",
               "Kept events dropped before their group's size pushed them "
               "out, by reason.",
               s.evicted, {{"reason", "max_bytes"}});
    m->Counter("channel_broker_history_dropped_total",
               "Kept events dropped before their group's size pushed them "
               "out, by reason.",
               s.expired, {{"reason", "ttl"}});
    m->Counter("channel_broker_history_streams_evicted_total",
               "Empty streams dropped for --history_max_bytes (their next "
               "event starts a new epoch).",
               s.streams_evicted);
    m->Counter("channel_broker_history_recoveries_total",
               "Recoveries (a since), by result.", s.recoveries,
               {{"result", "recovered"}});
    m->Counter("channel_broker_history_recoveries_total",
               "Recoveries (a since), by result.", s.recoveries_failed,
               {{"result", "not_recovered"}});
    m->Counter("channel_broker_history_reads_total", "History reads.", s.reads);
    m->Counter("channel_broker_publishes_refused_total",
               "Publishes refused, by reason.",
               in.stats.publishes_refused_history, {{"reason", "history"}});
  }
  if (in.cluster != nullptr) {
    const NatsLink& nats = in.cluster->nats();
    const NatsLink::Stats& n = nats.stats();
    m->Gauge("channel_broker_nats_connected", "1 while NATS is connected.",
             nats.up() ? 1 : 0);
    m->Counter("channel_broker_nats_reconnects_total", "NATS reconnects.",
               n.reconnects);
    m->Counter("channel_broker_nats_messages_total",
               "Events to and from NATS, by direction.", n.messages_out,
               {{"direction", "out"}});
    m->Counter("channel_broker_nats_messages_total",
               "Events to and from NATS, by direction.", n.messages_in,
               {{"direction", "in"}});
    m->Counter("channel_broker_nats_bytes_total",
               "Bytes to and from NATS (events and presence), by direction.",
               n.bytes_out, {{"direction", "out"}});
    m->Counter("channel_broker_nats_bytes_total",
               "Bytes to and from NATS (events and presence), by direction.",
               n.bytes_in, {{"direction", "in"}});
    m->Gauge("channel_broker_nats_subjects",
             "NATS subjects subscribed (channels with local subscribers).",
             static_cast<double>(nats.subjects()));
    m->Counter("channel_broker_nats_dropped_total",
               "Events lost between brokers, by reason.",
               n.dropped_slow_consumer, {{"reason", "slow_consumer"}});
    m->Counter("channel_broker_nats_dropped_total",
               "Events lost between brokers, by reason.", n.dropped_undecodable,
               {{"reason", "undecodable"}});
    m->Counter("channel_broker_nats_dropped_total",
               "Events lost between brokers, by reason.", n.dropped_inbox_full,
               {{"reason", "inbox_full"}});
    m->Counter("channel_broker_nats_dropped_total",
               "Events lost between brokers, by reason.",
               in.stats.cluster_forward_failures,
               {{"reason", "publish_failed"}});
    m->Gauge("channel_broker_cluster_presence_brokers",
             "Other brokers whose presence this broker holds.",
             static_cast<double>(in.cluster->presence().remote_brokers()));
    m->Counter("channel_broker_cluster_presence_malformed_total",
               "Presence messages from other brokers that could not be "
               "applied.",
               in.cluster->presence().malformed());
    m->Gauge("channel_broker_cluster_occupancy_teller",
             "1 while this broker tells the cluster's occupied/vacated "
             "events (the lowest settled broker id).",
             in.cluster->presence().occupancy().leads() ? 1 : 0);
    m->Gauge("channel_broker_cluster_occupancy_groups",
             "Groups told occupied (the teller's record, or this broker's "
             "copy of it).",
             static_cast<double>(in.cluster->presence().occupancy().told()));
    m->Counter("channel_broker_cluster_publishes_skipped_total",
               "Local publishes no other broker had subscribers for: not "
               "sent to NATS.",
               in.cluster->skipped());
    const ClusterNode::QueueStats& q = in.cluster->queue_stats();
    m->Counter("channel_broker_cluster_queue_events_total",
               "Queue-group events sent to the broker of the member chosen "
               "(out) and received for a member here (in).",
               q.sent, {{"direction", "out"}});
    m->Counter("channel_broker_cluster_queue_events_total",
               "Queue-group events sent to the broker of the member chosen "
               "(out) and received for a member here (in).",
               q.received, {{"direction", "in"}});
    m->Counter("channel_broker_cluster_queue_malformed_total",
               "Queue-group events from other brokers that could not be "
               "read.",
               q.malformed);
    m->Gauge("channel_broker_cluster_queue_remote_groups",
             "Queue groups (channel, group) with members on another broker, "
             "counted per broker.",
             static_cast<double>(q.remote_groups));
    if (const ClusterInterest* interest = in.cluster->interest()) {
      m->Gauge("channel_broker_cluster_interest_brokers",
               "Other brokers whose channel interest this broker holds.",
               static_cast<double>(interest->remote_brokers()));
      m->Gauge("channel_broker_cluster_interest_selective",
               "1 while this broker forwards publishes only where another "
               "broker wants them (0: its view is incomplete; it forwards "
               "all).",
               interest->selective(ClusterInterest::Clock::now()) ? 1 : 0);
      m->Counter("channel_broker_cluster_interest_syncs_total",
                 "Snapshots of another broker's interest asked for (a first "
                 "contact, a lost message, a re-join).",
                 interest->syncs_requested());
      for (const auto& [reason, count] :
           {std::pair<const char*, uint64_t>{"expired",
                                             interest->dropped_expired()},
            {"bye", interest->dropped_bye()},
            {"gone", interest->dropped_gone()}}) {
        m->Counter("channel_broker_cluster_interest_dropped_total",
                   "Other brokers dropped from the view, by reason: silent "
                   "for 5 s, said BYE (shutdown), or NATS said they have no "
                   "connection (probed while Acks waited for them).",
                   count, {{"reason", reason}});
      }
      m->Counter("channel_broker_cluster_interest_malformed_total",
                 "Interest messages from other brokers that could not be "
                 "applied.",
                 interest->malformed());
    }
    if (const JetStreamHistory* js = in.cluster->history()) {
      const JetStreamHistory::Stats& h = js->stats();
      m->Counter("channel_broker_history_jetstream_stored_total",
                 "History publishes JetStream stored (acknowledged).",
                 h.stored);
      m->Counter("channel_broker_history_jetstream_store_failures_total",
                 "History publishes JetStream refused, failed or did not "
                 "confirm in time (their publisher was told).",
                 h.store_failures);
      m->Gauge("channel_broker_history_jetstream_pending",
               "History publishes awaiting JetStream's confirmation.",
               static_cast<double>(js->pending_publishes()));
      m->Counter("channel_broker_history_jetstream_received_total",
                 "Events applied from the JetStream streams this broker "
                 "follows.",
                 h.received);
      m->Counter("channel_broker_history_jetstream_refollows_total",
                 "Times a stream's feed overflowed --nats_max_inbox_bytes "
                 "and was followed again from the first event not applied "
                 "(nothing lost).",
                 h.resubscribes);
      m->Counter("channel_broker_history_jetstream_stalls_total",
                 "Times a stream's feed stopped while the stream went on "
                 "(found by the once-a-second probe) and was followed "
                 "again from the first event not applied (nothing lost).",
                 h.stalls);
      m->Counter("channel_broker_history_jetstream_overruns_total",
                 "Times JetStream dropped events of a stream before this "
                 "broker's feed saw them (it lagged behind a group's limit, "
                 "2 x size + 100, or the events' age): the groups' local "
                 "subscribers were closed and told.",
                 h.overruns);
      m->Gauge("channel_broker_history_jetstream_ready",
               "1 when every history stream is set up and loaded.",
               js->ready() ? 1.0 : 0.0);
    }
  }
  m->Gauge("channel_broker_presence_groups",
           "Groups with members reported by gateways (presence).",
           static_cast<double>(in.presence.group_count()));
  m->Gauge("channel_broker_php_queues", "Work queues (watch/enqueue).",
           static_cast<double>(in.queues.queue_count()));
  m->Gauge("channel_broker_php_queue_items", "Items waiting in work queues.",
           static_cast<double>(in.queues.item_count()));
  m->Gauge("channel_broker_php_queue_bytes",
           "Bytes the work queues and their waiting items cost (text and "
           "bookkeeping).",
           static_cast<double>(in.queues.bytes()));
  m->Counter("channel_broker_php_queue_rejected_total",
             "Enqueues refused over a queue bound.",
             in.stats.php_queue_rejected);
  m->Counter("channel_broker_php_bridged_total",
             "Messages bridged between the PHP group channel and ws-gateway "
             "groups, by direction.",
             static_cast<double>(in.bridge.to_groups()),
             {{"direction", "to_groups"}});
  m->Counter("channel_broker_php_bridged_total",
             "Messages bridged between the PHP group channel and ws-gateway "
             "groups, by direction.",
             static_cast<double>(in.bridge.to_php()),
             {{"direction", "to_php"}});
  m->Counter("channel_broker_log_lines_suppressed_total",
             "Log lines left out by the per-site rate limit (peers cannot "
             "flood the log).",
             static_cast<double>(LogLimiter::SuppressedTotal()));
  for (const auto& [kind, count] : in.stats.errors_by_kind) {
    m->Counter("channel_broker_errors_total",
               "Error frames sent to clients, by kind.", count,
               {{"kind", kind}});
  }
}

}  // namespace channel
