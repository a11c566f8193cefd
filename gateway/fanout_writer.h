#ifndef CHANNEL_GATEWAY_FANOUT_WRITER_H_
#define CHANNEL_GATEWAY_FANOUT_WRITER_H_

// Writes one loop turn's fan-out (a built FanoutBatch) to the local
// recipients of each target. Included only by worker.cc (the websocketpp
// translation unit).
//
// Contracts:
//  - every recipient of a segment gets the same bytes: a WsConnection (ws)
//    writes them straight to its socket when nothing is queued, else queues
//    one buffer shared by every recipient that has to wait; a websocketpp
//    connection (wss) gets one prepared message shared by all of them;
//  - a recipient with more than `max_queued_bytes` already queued is handed
//    to `on_slow` (the worker closes it) and gets nothing more;
//  - connections that are closing or not open get nothing.
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "gateway/connection_ops.h"
#include "gateway/fanout_batch.h"
#include "gateway/membership.h"
#include "gateway/worker_stats.h"

namespace channel {

template <typename Connection>
class FanoutWriter {
 public:
  static constexpr bool kOwn = std::is_same_v<Connection, WsConnection>;
  using ConnectionPtr = std::shared_ptr<Connection>;
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
        // Built only if a recipient has to wait / needs websocketpp.
        Shared msg, json_msg;
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
  template <typename C, typename = void>
  struct SharedOf {
    using type = SharedFrame;
  };
  template <typename C>
  struct SharedOf<C, std::void_t<typename C::message_ptr>> {
    using type = typename C::message_ptr;
  };
  using Shared = typename SharedOf<Connection>::type;

  // A prepared websocketpp message carrying raw frame bytes: websocketpp
  // writes them as they are.
  static Shared RawMessage(std::string bytes) {
    using Message = typename Connection::message_type;
    auto msg = std::make_shared<Message>(typename Message::con_msg_man_ptr(),
                                         websocketpp::frame::opcode::text, 0);
    msg->get_raw_payload().swap(bytes);
    msg->set_prepared(true);
    return msg;
  }

  void Send(Connection* con, const std::string& frames, uint64_t count,
            Shared* shared) {
    if (con->closing) return;
    // Past the bound already: this client has not read what it was sent.
    // (Checked before adding, so one batch larger than the bound still goes
    // to a client that keeps up; the queue peaks at bound + one batch.)
    if (BufferedAmount(*con) > max_queued_bytes_) {
      on_slow_(con);
      return;
    }
    if (!IsOpen(*con)) return;
    if constexpr (kOwn) {
      if (con->SendFrames(frames, shared)) Bump(stats_->direct_writes);
      Delivered(count, frames.size());
    } else {
      if (!*shared) *shared = RawMessage(frames);
      if (!con->send(*shared)) Delivered(count, frames.size());
    }
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
