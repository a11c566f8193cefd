#include "gateway/fanout/fanout_writer.h"

namespace channel {

void FanoutWriter::Write(const FanoutBatch& batch, const Membership& membership,
                         const Connections& all, const Recoveries& recoveries) {
  // Almost always false: then no member is even looked at for it.
  const bool holding = !recoveries.empty();
  for (const FanoutBatch::Target& target : batch.targets()) {
    recipients_.clear();
    if (target.to_all) {
      for (const auto& [id, con] : all) recipients_.push_back(con.get());
    } else if (const auto* members = membership.Find(target.channel)) {
      for (ConnectionData* member : *members) {
        if (holding && recoveries.Holds(member, target.channel)) continue;
        // Every member the worker registers is a WsConnection.
        recipients_.push_back(static_cast<WsConnection*>(member));
      }
    }
    for (const FanoutBatch::Segment& segment : target.live()) {
      // Made only if a recipient has to wait.
      SharedFrame shared, json_shared;
      for (WsConnection* con : recipients_) {
        if (FanoutBatch::Excluded(segment, con->id)) continue;
        if (!segment.skip_user.empty() && con->user_id == segment.skip_user) {
          continue;
        }
        if (con->json_framing) {
          Send(con, segment.json_frames, segment.count, &json_shared);
        } else {
          Send(con, segment.frames, segment.count, &shared);
        }
      }
    }
  }
}

void FanoutWriter::Send(WsConnection* con, const std::string& frames,
                        uint64_t count, SharedFrame* shared) {
  if (!con->is_open()) return;  // closing: it left its groups
  if (frames.empty()) return;   // member events only, for JSON framing
  // Past the bound already: this client has not read what it was sent.
  // (Checked before adding, so one batch larger than the bound still goes
  // to a client that keeps up; the queue peaks at bound + one batch.)
  if (con->buffered_amount() > max_queued_bytes_) {
    on_slow_(con);
    return;
  }
  if (con->SendFrames(frames, shared)) Bump(stats_->direct_writes);
  Bump(stats_->deliveries, count);
  Bump(stats_->bytes_out, frames.size());
}

}  // namespace channel
