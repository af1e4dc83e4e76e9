// Snapshot = a few instant queries at the window's end; see README "Windows"
// for how the window becomes a range and what "no data" means.
#include "prometheus/prometheus_metrics_source.h"

#include <cmath>
#include <utility>

#include "client/api_client.h"
#include "prometheus/promql.h"

namespace mlcanary::prometheus {
namespace {

std::unexpected<core::Error> Unavailable(std::string message) {
  return core::MakeError(core::ErrorCode::kUnavailable, std::move(message));
}

// A count from an increase(): Prometheus extrapolates to the window's edges,
// so the value is fractional; the nearest whole number.
core::Result<std::int64_t> Count(double v, std::string_view what, std::string_view variant) {
  if (!std::isfinite(v) || v < 0) {
    return Unavailable(std::string(what) + " of variant '" + std::string(variant) + "' is " +
                       std::to_string(v) + ", not a count");
  }
  return static_cast<std::int64_t>(std::llround(v));
}

double ValueOr(const std::map<std::string, double>& m, const std::string& key, double fallback) {
  const auto it = m.find(key);
  return it == m.end() ? fallback : it->second;
}

// A utilization ratio as percent, when present and a sane number.
std::optional<double> Percent(std::optional<double> ratio) {
  if (!ratio || !std::isfinite(*ratio) || *ratio < 0) return std::nullopt;
  return *ratio * 100.0;
}

}  // namespace

PrometheusMetricsSource::PrometheusMetricsSource(PrometheusOptions options)
    : options_(std::move(options)) {
  while (!options_.url.empty() && options_.url.back() == '/') options_.url.pop_back();
}

core::Result<std::vector<Sample>> PrometheusMetricsSource::Query(const std::string& query,
                                                                 core::Timestamp at) {
  const std::string url = options_.url + "/api/v1/query?query=" + client::PercentEncode(query) +
                          "&time=" + FormatEvalTime(at);
  auto context = [&] { return "prometheus at " + options_.url + ", query '" + query + "'"; };
  core::Result<client::HttpAnswer> answer = [&] {
    std::lock_guard lock(mu_);
    return connection_.Send({.method = "GET",
                             .url = url,
                             .headers = {"Accept: application/json"},
                             .timeout = options_.timeout});
  }();
  if (!answer) {
    // Every failure to get an answer is retryable: the controller holds.
    const auto code = answer.error().code() == core::ErrorCode::kTimeout
                          ? core::ErrorCode::kTimeout
                          : core::ErrorCode::kUnavailable;
    return core::MakeError(code, context() + ": " + answer.error().message());
  }
  auto samples = ParseVectorAnswer(answer->status, answer->body);
  if (!samples) return std::unexpected(samples.error().WithContext(context()));
  return samples;
}

core::Result<std::map<std::string, double>> PrometheusMetricsSource::QueryByVariant(
    const std::string& query, core::Timestamp at) {
  auto samples = Query(query, at);
  if (!samples) return std::unexpected(samples.error());
  auto by_variant = ByVariant(*samples);
  if (!by_variant) {
    return std::unexpected(by_variant.error().WithContext("prometheus at " + options_.url +
                                                          ", query '" + query + "'"));
  }
  return by_variant;
}

core::Result<std::map<std::string, core::WindowMetrics>> PrometheusMetricsSource::Snapshot(
    std::string_view endpoint, core::Timestamp start, core::Timestamp end) {
  Windows out;
  if (end <= start) return out;  // an empty window holds no traffic
  const WindowQueries q = BuildWindowQueries(endpoint, options_.job, end - start);
  auto traffic = ReadCounts(q, end, out);
  if (!traffic) return std::unexpected(traffic.error());
  if (!*traffic) return out;  // latencies of no request are not zero: leave them unread
  if (auto s = ReadLatencies(q, end, out); !s) return std::unexpected(s.error());
  if (auto s = ReadOverhead(q, end, out); !s) return std::unexpected(s.error());
  if (auto s = ReadUtilization(q, end, out); !s) return std::unexpected(s.error());
  return out;
}

// Invocations and errors per variant; no series at all is no traffic.
core::Result<bool> PrometheusMetricsSource::ReadCounts(const WindowQueries& q, core::Timestamp end,
                                                       Windows& out) {
  auto invocations = QueryByVariant(q.invocations, end);
  if (!invocations) return std::unexpected(invocations.error());
  if (invocations->empty()) return false;  // no series: no traffic
  auto errors_4xx = QueryByVariant(q.errors_4xx, end);
  if (!errors_4xx) return std::unexpected(errors_4xx.error());
  auto errors_5xx = QueryByVariant(q.errors_5xx, end);
  if (!errors_5xx) return std::unexpected(errors_5xx.error());
  bool traffic = false;
  for (const auto& [variant, value] : *invocations) {
    core::WindowMetrics& w = out[variant];
    auto n = Count(value, "invocations", variant);
    if (!n) return std::unexpected(n.error().WithContext("query '" + q.invocations + "'"));
    auto e4 = Count(ValueOr(*errors_4xx, variant, 0), "4XX errors", variant);
    if (!e4) return std::unexpected(e4.error().WithContext("query '" + q.errors_4xx + "'"));
    auto e5 = Count(ValueOr(*errors_5xx, variant, 0), "5XX errors", variant);
    if (!e5) return std::unexpected(e5.error().WithContext("query '" + q.errors_5xx + "'"));
    w.invocations = *n;
    w.errors_4xx = *e4;
    w.errors_5xx = *e5;
    traffic = traffic || w.invocations > 0;
  }
  return traffic;
}

// Latency quantiles, in seconds: NaN or no sample where a variant had no
// histogram data in the window.
core::Status PrometheusMetricsSource::ReadLatencies(const WindowQueries& q, core::Timestamp end,
                                                    Windows& out) {
  for (auto [query, field] : {std::pair{&q.p50, &core::WindowMetrics::p50_ms},
                              std::pair{&q.p90, &core::WindowMetrics::p90_ms},
                              std::pair{&q.p99, &core::WindowMetrics::p99_ms}}) {
    auto quantile = QueryByVariant(*query, end);
    if (!quantile) return std::unexpected(quantile.error());
    for (auto& [variant, w] : out) {
      if (w.invocations == 0) continue;
      const double seconds = ValueOr(*quantile, variant, std::nan(""));
      if (!std::isfinite(seconds) || seconds < 0) {
        return Unavailable("prometheus at " + options_.url + ", query '" + *query +
                           "': no latency for variant '" + variant + "' (" +
                           std::to_string(w.invocations) +
                           " invocations in the window): a window without latency is not read "
                           "as zero latency");
      }
      w.*field = seconds * 1000.0;
    }
  }
  return core::Ok();
}

core::Status PrometheusMetricsSource::ReadOverhead(const WindowQueries& q, core::Timestamp end,
                                                   Windows& out) {
  auto overhead = QueryByVariant(q.overhead, end);
  if (!overhead) return std::unexpected(overhead.error());
  for (auto& [variant, w] : out) {
    const double seconds = ValueOr(*overhead, variant, 0);
    w.overhead_ms = std::isfinite(seconds) && seconds >= 0 ? seconds * 1000.0 : 0.0;
  }
  return core::Ok();
}

// Utilization: the variant's own process where it has one, else the mean of
// the replicas' (the gateway's) processes, as the embedded source does.
core::Status PrometheusMetricsSource::ReadUtilization(const WindowQueries& q, core::Timestamp end,
                                                      Windows& out) {
  std::map<std::string, double> own[2];
  std::optional<double> process[2];
  for (int i = 0; i < 2; ++i) {
    auto v = QueryByVariant(i == 0 ? q.variant_cpu : q.variant_memory, end);
    if (!v) return std::unexpected(v.error());
    own[i] = std::move(*v);
    const std::string& pq = i == 0 ? q.process_cpu : q.process_memory;
    auto p = Query(pq, end);
    if (!p) return std::unexpected(p.error());
    if (p->size() > 1) {
      return Unavailable("prometheus at " + options_.url + ", query '" + pq +
                         "': " + std::to_string(p->size()) + " samples, expected at most 1");
    }
    if (!p->empty()) process[i] = p->front().value;
  }
  for (auto& [variant, w] : out) {
    auto pick = [&](int i) -> std::optional<double> {
      if (const auto it = own[i].find(variant); it != own[i].end()) {
        if (auto v = Percent(it->second)) return v;
      }
      return Percent(process[i]);
    };
    w.cpu_utilization = pick(0);
    w.memory_utilization = pick(1);
  }
  return core::Ok();
}

core::Result<std::unique_ptr<core::MetricsSource>> MakePrometheusMetricsSource(
    PrometheusOptions options) {
  if (auto s = ValidatePrometheusUrl(options.url); !s) {
    return std::unexpected(s.error().WithContext("metrics.url"));
  }
  if (options.timeout <= core::Duration::zero()) {
    return core::ValidationError("metrics.timeout: must be more than 0");
  }
  return std::make_unique<PrometheusMetricsSource>(std::move(options));
}

}  // namespace mlcanary::prometheus
