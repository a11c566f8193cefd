#ifndef CHANNEL_BROKER_BROKER_SERVER_H_
#define CHANNEL_BROKER_BROKER_SERVER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/steady_timer.hpp"
#include "broker/admission/restart_grace.h"
#include "broker/admission/source_policy.h"
#include "broker/api/api_backend.h"
#include "broker/app/client_actions.h"
#include "broker/app/webhook_sink.h"
#include "broker/broker_context.h"
#include "broker/broker_options.h"
#include "broker/cluster/cluster_node.h"
#include "broker/metrics/broker_stats.h"
#include "broker/php/php_bridge.h"
#include "broker/php/work_queues.h"
#include "broker/presence/presence_service.h"
#include "broker/routing/router.h"
#include "common/lifecycle/drain_runner.h"
#include "common/ops/prometheus_text.h"
#include "common/php/php_serialize.h"
#include "net/framed_stream.h"

namespace channel {

class Session;

// The broker: accepts connections on one io_context (one thread, like Redis:
// no locks anywhere) and owns the sessions and the broker's parts, which it
// hands to sessions and codecs as a BrokerContext (never itself). Its own
// jobs: accepting (bounded: --max_connections, --max_pending_handshakes
// shed oldest first), the session registry, the end-of-pass flush (frames
// queued during one pass of the event loop go out in one gathered write
// per session at the end of the pass), the ticks, and shutdown. The
// cluster is a ClusterNode, the restart grace a RestartGrace, the sources'
// rights a SourcePolicy, presence a PresenceService, metrics
// broker_metrics.cc.
class BrokerServer : public SessionHost, public ApiBackend {
 public:
  BrokerServer(asio::io_context& io, BrokerOptions options);
  ~BrokerServer() override;

  // Checks the options (InvalidArgument for a bad --php_allow_from), binds
  // options.listen_host:options.port and starts accepting.
  absl::Status Listen();
  uint16_t port() const { return port_; }
  const std::string& broker_id() const { return broker_id_; }

  // Graceful stop (docs/PROTOCOL.md, "Draining"): not ready, stop
  // accepting, then ask each client to move to another broker (GoAway) or,
  // when its codec cannot be asked, close it, in random order spread evenly
  // over options.drain; options.shutdown_grace later, close whoever is
  // left with SHUTTING_DOWN (after its queued frames). The broker keeps
  // routing (and its cluster link) until the last session is gone, then
  // calls on_drained.
  void Shutdown(std::function<void()> on_drained);

  // ApiBackend (the HTTP API, on this thread).
  std::string NotReadyReason() const override;
  void ActOnClient(ActionRequest request, ClientActionDone done) override;
  // How long the API waits for a gateway's action result.
  static constexpr std::chrono::milliseconds kClientActionTimeout{2000};
  void PublishFromApi(const std::vector<std::string>& channels,
                      const std::string& message, PublishDone done) override;
  const PresenceTable& presence() const override { return presence_.table(); }
  const PresenceRules& presence_rules() const override {
    return presence_.rules();
  }
  absl::Status ReadHistoryFromApi(const v1::HistoryQuery& query,
                                  v1::HistoryReply* reply) override;

  // SessionHost.
  bool ClusterReady() const override {
    return cluster_ == nullptr || cluster_->up();
  }
  void SessionEstablished(uint64_t id) override { pending_.erase(id); }
  void OnSessionFinished(uint64_t id) override;
  void ScheduleFlush(std::shared_ptr<FramedStream> stream) override;

  // /metrics. `extra` appends more series (the HTTP API's).
  std::string RenderMetrics() const;
  void set_extra_metrics(std::function<void(PrometheusText*)> extra) {
    extra_metrics_ = std::move(extra);
  }

 private:
  void DoAccept();
  void FlushAll();
  void MaybeDrained();
  // The drain's turn of session `id`: GoAway, or close.
  void MoveOrClose(uint64_t id);
  // Closes every session with `code` and `reason` (NATS lost, shutdown).
  void CloseAll(v1::Error::Code code, const std::string& reason);
  // Standalone: closes holders late to release, ends the restart grace
  // when due, expires history (once a second).
  void ArmSoleTick();
  // Every presence group's whole member list to its subscribers (the end
  // of a restart's grace).
  void ResyncMemberLists();
  // A member event (codec kMember*Codec, or kMembersCodec for a whole
  // list) to this broker's subscribers of the group's channel.
  void TellMembers(const std::string& group, std::string payload,
                   const char* codec, const std::string& user);

  asio::io_context& io_;
  const BrokerOptions options_;
  const std::string broker_id_;
  asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  BrokerStats stats_;
  const PhpLimits php_limits_;  // before php_bridge_, which copies it
  Router router_;
  // Standalone only (null in a cluster): the broker is the sequencer.
  std::unique_ptr<HistoryStore> history_;
  WorkQueues work_queues_;
  PhpBridge php_bridge_;
  PresenceService presence_;
  RestartGrace grace_;
  SourcePolicy sources_;  // set by Listen
  BrokerContext context_;
  std::unique_ptr<ClusterNode> cluster_;  // cluster mode only
  // The HTTP API's actions on gateways' connections (set by Listen).
  std::unique_ptr<ClientActions> client_actions_;
  std::unique_ptr<WebhookSink> webhook_;  // --webhook_url only
  asio::steady_timer sole_tick_;
  DrainRunner drain_;
  asio::steady_timer final_close_;  // the end of the shutdown grace
  std::chrono::steady_clock::time_point final_close_at_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<Session>> sessions_;
  // Sessions that have not said their Hello yet, oldest (lowest id) first.
  std::map<uint64_t, Session*> pending_;
  uint64_t next_session_id_ = 1;
  std::vector<std::shared_ptr<Session>> retired_;
  std::vector<std::shared_ptr<FramedStream>> flush_list_;
  std::vector<std::shared_ptr<FramedStream>> flushing_;
  bool shutting_down_ = false;
  std::function<void()> on_drained_;
  std::function<void(PrometheusText*)> extra_metrics_;
};

}  // namespace channel

#endif  // CHANNEL_BROKER_BROKER_SERVER_H_
