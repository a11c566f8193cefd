#ifndef CHANNEL_GATEWAY_FANOUT_WRITER_H_
#define CHANNEL_GATEWAY_FANOUT_WRITER_H_

// Writes one loop turn's fan-out (a built FanoutBatch) to the local
// recipients of each target. Included only by worker.cc (the websocketpp
// translation unit).
//
// Contracts:
//  - every recipient of a segment gets the same bytes: on plain TCP written
//    straight to the socket while websocketpp has nothing queued for it
//    (direct_write.h), else one prepared message shared by every recipient
//    that needs websocketpp;
//  - a recipient with more than `max_queued_bytes` already queued is handed
//    to `on_slow` (the worker closes it) and gets nothing more;
//  - connections that are closing or not open get nothing.
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "gateway/direct_write.h"
#include "gateway/fanout_batch.h"
#include "gateway/membership.h"
#include "gateway/worker_config.h"
#include "gateway/worker_stats.h"

namespace channel {

template <typename Config>
class FanoutWriter {
 public:
  using Connection = websocketpp::connection<Config>;
  using ConnectionPtr = std::shared_ptr<Connection>;
  using MessagePtr = typename Connection::message_ptr;
  using Connections = absl::flat_hash_map<uint64_t, ConnectionPtr>;

  // `stats` outlives the writer; `on_slow` closes a slow connection.
  FanoutWriter(size_t max_queued_bytes, WorkerStats* stats,
               std::function<void(Connection*)> on_slow)
      : max_queued_bytes_(max_queued_bytes),
        stats_(stats),
        on_slow_(std::move(on_slow)) {}

  // Sends every live segment of `batch`: to every connection in `all` for
  // a to-all target, else to the members `membership` lists.
  void Write(const FanoutBatch& batch, const Membership& membership,
             const Connections& all) {
    for (const FanoutBatch::Target& target : batch.targets()) {
      recipients_.clear();
      if (target.to_all) {
        for (auto& [id, con] : all) recipients_.push_back(con.get());
      } else if (const auto* members = membership.Find(target.channel)) {
        for (ConnectionData* member : *members) {
          recipients_.push_back(static_cast<Connection*>(member));
        }
      }
      for (const FanoutBatch::Segment& segment : target.live()) {
        // Built only if a recipient needs websocketpp.
        MessagePtr msg, json_msg;
        for (Connection* con : recipients_) {
          if (FanoutBatch::Excluded(segment, con->id)) continue;
          if (con->json_framing) {
            Send(con, segment.json_frames, segment.count, &json_msg);
          } else {
            Send(con, segment.frames, segment.count, &msg);
          }
        }
      }
    }
  }

 private:
  // A prepared message carrying raw frame bytes: websocketpp writes them as
  // they are.
  static MessagePtr RawMessage(std::string bytes) {
    using Message = typename Config::message_type;
    auto msg =
        std::make_shared<Message>(typename Config::con_msg_manager_type::ptr(),
                                  websocketpp::frame::opcode::text, 0);
    msg->get_raw_payload().swap(bytes);
    msg->set_prepared(true);
    return msg;
  }

  void Send(Connection* con, const std::string& frames, uint64_t count,
            MessagePtr* shared) {
    if (con->closing) return;
    // Past the bound already: this client has not read what it was sent.
    // (Checked before adding, so one batch larger than the bound still goes
    // to a client that keeps up; the queue peaks at bound + one batch.)
    if (con->get_buffered_amount() > max_queued_bytes_) {
      on_slow_(con);
      return;
    }
    if (con->get_state() != websocketpp::session::state::open) return;
    if constexpr (std::is_same_v<Config, PlainConfig>) {
      size_t written = 0;
      switch (TryDirectWrite(*con, frames, &written)) {
        case DirectWrite::kWritten:
          Delivered(count, frames.size());
          Bump(stats_->direct_writes);
          return;
        case DirectWrite::kPartial:
          // The rest goes through websocketpp; everything later queues
          // behind it.
          if (!con->send(RawMessage(frames.substr(written)))) {
            Delivered(count, frames.size());
          }
          return;
        case DirectWrite::kNotDirect:
          break;
      }
    }
    if (!*shared) *shared = RawMessage(frames);
    if (!con->send(*shared)) Delivered(count, frames.size());
  }

  void Delivered(uint64_t count, size_t bytes) {
    Bump(stats_->deliveries, count);
    Bump(stats_->bytes_out, bytes);
  }

  const size_t max_queued_bytes_;
  WorkerStats* const stats_;
  const std::function<void(Connection*)> on_slow_;
  std::vector<Connection*> recipients_;  // scratch, reused
};

}  // namespace channel

#endif  // CHANNEL_GATEWAY_FANOUT_WRITER_H_
