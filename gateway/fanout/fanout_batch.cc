#include "gateway/fanout/fanout_batch.h"

#include "gateway/ws/ws_text_frame.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace channel {

void FanoutBatch::Reset() {
  for (size_t i = 0; i < used_; ++i) {
    Target& target = pool_[i];
    for (size_t s = 0; s < target.used; ++s) {
      Segment& segment = target.segments[s];
      for (std::string* buffer : {&segment.frames, &segment.json_frames}) {
        if (buffer->capacity() > kKeepBytes) {
          std::string().swap(*buffer);
        } else {
          buffer->clear();
        }
      }
      segment.count = 0;
      segment.exclude.clear();
      segment.skip_user.clear();
    }
    target.used = 0;
  }
  used_ = 0;
  index_.clear();
  all_index_ = SIZE_MAX;
}

FanoutBatch::Target& FanoutBatch::TargetFor(bool to_all,
                                            absl::string_view channel) {
  size_t* slot;
  if (to_all) {
    slot = &all_index_;
  } else {
    auto [it, inserted] = index_.try_emplace(channel, SIZE_MAX);
    slot = &it->second;
  }
  if (*slot == SIZE_MAX) {
    if (used_ == pool_.size()) pool_.emplace_back();
    *slot = used_++;
    Target& target = pool_[*slot];
    target.to_all = to_all;
    target.channel = to_all ? absl::string_view() : channel;
  }
  return pool_[*slot];
}

FanoutBatch::Segment& FanoutBatch::NextSegment(Target* target) {
  if (target->used == target->segments.size()) target->segments.emplace_back();
  return target->segments[target->used++];
}

// {"type":"message","group":G,"message":M,"from":U} (or "all":true, or
// "user":true for messages to the connection's user; "from" when known).
std::string FanoutBatch::Json(const Delivery& d) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto string = [&w](absl::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  };
  w.StartObject();
  w.Key("type");
  w.String("message");
  std::string id;
  bool group = false;
  if (d.to_all) {
    w.Key("all");
    w.Bool(true);
  } else if (ParseBrokerChannel(d.channel, &id) == ChannelKind::kUser) {
    w.Key("user");
    w.Bool(true);
  } else {
    w.Key("group");
    string(id);
    group = true;
  }
  w.Key("message");
  string(*d.payload);
  if (!d.sender().empty()) {
    w.Key("from");
    string(d.sender());
  }
  // Offsets are shown for groups only: the broadcast channel's are the
  // gateway's own business (exact gaps).
  if (group && d.offset() != 0) {
    w.Key("offset");
    w.Uint64(d.offset());
    w.Key("epoch");
    string(d.epoch());
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

void FanoutBatch::AppendJson(const Delivery& d, Segment* segment) {
  AppendTextFrame(Json(d), &segment->json_frames);
}

void FanoutBatch::AppendMemberEvent(const std::string& json, Segment* segment) {
  AppendTextFrame(json, &segment->json_frames);
}

void FanoutBatch::Append(const std::string& payload, Segment* segment) {
  AppendTextFrame(payload, &segment->frames);
  ++segment->count;
}

}  // namespace channel
