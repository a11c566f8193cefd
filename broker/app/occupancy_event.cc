#include "broker/app/occupancy_event.h"

#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace channel {

std::string OccupancyEventJson(absl::string_view group, bool occupied,
                               int64_t time_ms) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("type");
  w.String(occupied ? "occupied" : "vacated");
  w.Key("group");
  w.String(group.data(), static_cast<rapidjson::SizeType>(group.size()));
  w.Key("time_ms");
  w.Int64(time_ms);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace channel
