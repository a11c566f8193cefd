#ifndef CHANNEL_COMMON_OPS_PROMETHEUS_TEXT_H_
#define CHANNEL_COMMON_OPS_PROMETHEUS_TEXT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace channel {

// Builds a Prometheus text exposition (format 0.0.4). Writes HELP and TYPE
// once per metric family; label values are escaped. Not a registry: owners
// keep their own counters and render a snapshot per scrape.
class PrometheusText {
 public:
  using Labels = std::vector<std::pair<absl::string_view, absl::string_view>>;

  void Counter(absl::string_view name, absl::string_view help, double value,
               const Labels& labels = {});
  void Gauge(absl::string_view name, absl::string_view help, double value,
             const Labels& labels = {});

  // One sample of histogram family `name`: `suffix` is "_bucket" (with an
  // "le" label; cumulative counts), "_sum" or "_count".
  void Histogram(absl::string_view name, absl::string_view help,
                 absl::string_view suffix, double value, const Labels& labels);

  const std::string& text() const { return out_; }

 private:
  void Sample(absl::string_view name, absl::string_view help,
              absl::string_view type, double value, const Labels& labels,
              absl::string_view suffix = {});

  std::string out_;
  std::string last_family_;
};

}  // namespace channel

#endif  // CHANNEL_COMMON_OPS_PROMETHEUS_TEXT_H_
