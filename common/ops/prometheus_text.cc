#include "common/ops/prometheus_text.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace channel {
namespace {

void AppendEscapedLabelValue(absl::string_view value, std::string* out) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '"':
        out->append("\\\"");
        break;
      case '\n':
        out->append("\\n");
        break;
      default:
        out->push_back(c);
    }
  }
}

}  // namespace

void PrometheusText::Counter(absl::string_view name, absl::string_view help,
                             double value, const Labels& labels) {
  Sample(name, help, "counter", value, labels);
}

void PrometheusText::Gauge(absl::string_view name, absl::string_view help,
                           double value, const Labels& labels) {
  Sample(name, help, "gauge", value, labels);
}

void PrometheusText::Histogram(absl::string_view name, absl::string_view help,
                               absl::string_view suffix, double value,
                               const Labels& labels) {
  Sample(name, help, "histogram", value, labels, suffix);
}

void PrometheusText::Sample(absl::string_view name, absl::string_view help,
                            absl::string_view type, double value,
                            const Labels& labels, absl::string_view suffix) {
  if (last_family_ != name) {
    absl::StrAppend(&out_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ",
                    type, "\n");
    last_family_ = std::string(name);
  }
  out_.append(name.data(), name.size());
  out_.append(suffix.data(), suffix.size());
  if (!labels.empty()) {
    out_.push_back('{');
    bool first = true;
    for (const auto& [key, val] : labels) {
      if (!first) out_.push_back(',');
      first = false;
      absl::StrAppend(&out_, key, "=\"");
      AppendEscapedLabelValue(val, &out_);
      out_.push_back('"');
    }
    out_.push_back('}');
  }
  absl::StrAppendFormat(&out_, " %.17g\n", value);
}

}  // namespace channel
