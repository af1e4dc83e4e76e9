// PromQL text for the window queries. Metric names are those that
// metrics/prometheus.cc exports.
#include "prometheus/promql.h"

#include <cstdint>

namespace mlcanary::prometheus {
namespace {

// `{endpoint="recs",job="x"}` (the process metrics carry no endpoint label).
std::string Selector(std::string_view endpoint, std::string_view job, bool with_endpoint) {
  std::string out = "{";
  if (with_endpoint) out += "endpoint=" + QuoteString(endpoint);
  if (!job.empty()) {
    if (with_endpoint) out += ',';
    out += "job=" + QuoteString(job);
  }
  out += '}';
  return out;
}

}  // namespace

std::string QuoteString(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (b < 0x20 || b == 0x7f) {
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 0x0f];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string FormatRange(core::Duration range) {
  const std::int64_t ms = range.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

std::string FormatEvalTime(core::Timestamp t) {
  const std::int64_t ms = t.time_since_epoch().count();
  // Floor division, so that times before 1970 stay right (tests only).
  std::int64_t s = ms / 1000;
  std::int64_t frac = ms % 1000;
  if (frac < 0) {
    s -= 1;
    frac += 1000;
  }
  std::string digits = std::to_string(frac);
  digits.insert(0, 3 - digits.size(), '0');
  return std::to_string(s) + "." + digits;
}

WindowQueries BuildWindowQueries(std::string_view endpoint, std::string_view job,
                                 core::Duration range) {
  const std::string sel = Selector(endpoint, job, true);
  const std::string r = "[" + FormatRange(range) + "]";
  const std::string m = sel + r;  // {matchers}[range]
  auto increase = [&](std::string_view metric) {
    return "sum by (variant) (increase(" + std::string(metric) + m + "))";
  };
  // Quantiles from each bucket's change between the last scrape before the
  // window and the last one in it, not from rate(): rate() extrapolates each
  // bucket series on its own and stops at a counter's zero, so buckets empty
  // at the window's start are scaled less than the others and the quantile
  // drifts into the higher buckets (a canary that got faster, 50 ms -> 5 ms,
  // read a p99 of 48 ms). A series reset inside the window (a replica
  // restarted) has a negative change and falls back to increase().
  const std::string bucket = "mlcanary_model_latency_seconds_bucket" + sel;
  const std::string bucket_change = "(" + bucket + " - " + bucket + " offset " +
                                    FormatRange(range) + ") >= 0 or increase(" + bucket + r + ")";
  auto quantile = [&](std::string_view q) {
    return "histogram_quantile(" + std::string(q) + ", sum by (variant, le) (" + bucket_change +
           "))";
  };
  auto mean_by_variant = [&](std::string_view metric) {
    return "avg by (variant) (avg_over_time(" + std::string(metric) + m + "))";
  };
  const std::string process_sel = job.empty() ? std::string() : Selector(endpoint, job, false);
  auto mean_of_replicas = [&](std::string_view metric) {
    return "avg(avg_over_time(" + std::string(metric) + process_sel + r + "))";
  };
  WindowQueries q;
  q.invocations = increase("mlcanary_invocations_total");
  q.errors_4xx = increase("mlcanary_invocation_4xx_errors_total");
  q.errors_5xx = increase("mlcanary_invocation_5xx_errors_total");
  q.p50 = quantile("0.5");
  q.p90 = quantile("0.9");
  q.p99 = quantile("0.99");
  q.overhead = "sum by (variant) (rate(mlcanary_overhead_latency_seconds_sum" + m +
               ")) / sum by (variant) (rate(mlcanary_overhead_latency_seconds_count" + m + "))";
  q.variant_cpu = mean_by_variant("mlcanary_variant_cpu_utilization_ratio");
  q.variant_memory = mean_by_variant("mlcanary_variant_memory_utilization_ratio");
  q.process_cpu = mean_of_replicas("mlcanary_process_cpu_utilization_ratio");
  q.process_memory = mean_of_replicas("mlcanary_process_memory_utilization_ratio");
  return q;
}

}  // namespace mlcanary::prometheus
