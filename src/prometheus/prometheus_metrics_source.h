// PrometheusMetricsSource: the canary judged from a Prometheus server that
// scrapes every replica's /metrics (DESIGN.md "fleet"), as the controller's
// core::MetricsSource port.
#ifndef MLCANARY_PROMETHEUS_PROMETHEUS_METRICS_SOURCE_H_
#define MLCANARY_PROMETHEUS_PROMETHEUS_METRICS_SOURCE_H_

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "client/http_connection.h"
#include "core/ports.h"
#include "prometheus/prometheus_url.h"
#include "prometheus/promql.h"
#include "prometheus/query_answer.h"

namespace mlcanary::prometheus {

struct PrometheusOptions {
  // The server's base URL: http://host:9090 (a path prefix is kept:
  // http://host/prometheus). Queries go to <url>/api/v1/query.
  std::string url;
  // When not empty, only series with job="<job>" count (one fleet among
  // several that the same Prometheus scrapes).
  std::string job;
  core::Duration timeout = std::chrono::seconds(5);  // per query
};

// Thread-safe: queries run one at a time on one kept-alive connection.
class PrometheusMetricsSource final : public core::MetricsSource {
 public:
  explicit PrometheusMetricsSource(PrometheusOptions options);

  // Every variant of `endpoint` with a series in Prometheus, over [start, end):
  // instant queries at `end` over a range of end - start (README "Windows").
  // A variant without series reads as invocations 0 (absent from the map); a
  // variant with invocations but no latency is an error, never zero latency.
  // Errors (all retryable, a check error to the controller): Prometheus
  // unreachable (kUnavailable) or too slow (kTimeout), an HTTP error, a body
  // that is not the query API's answer; each names the URL and the query.
  core::Result<std::map<std::string, core::WindowMetrics>> Snapshot(std::string_view endpoint,
                                                                    core::Timestamp start,
                                                                    core::Timestamp end) override;

  // One instant query at `at`, by variant (exposed for tests and tools).
  core::Result<std::map<std::string, double>> QueryByVariant(const std::string& query,
                                                             core::Timestamp at);

 private:
  using Windows = std::map<std::string, core::WindowMetrics>;
  core::Result<std::vector<Sample>> Query(const std::string& query, core::Timestamp at);
  // Snapshot's steps, each filling `out` (one window per variant) from its
  // queries at `end`. ReadCounts: whether any variant had traffic.
  core::Result<bool> ReadCounts(const WindowQueries& q, core::Timestamp end, Windows& out);
  core::Status ReadLatencies(const WindowQueries& q, core::Timestamp end, Windows& out);
  core::Status ReadOverhead(const WindowQueries& q, core::Timestamp end, Windows& out);
  core::Status ReadUtilization(const WindowQueries& q, core::Timestamp end, Windows& out);

  PrometheusOptions options_;
  std::mutex mu_;  // guards connection_
  client::HttpConnection connection_;
};

// The factory `serve` wires in for `metrics: {source: prometheus, ...}`.
// kValidation for a bad URL (ValidatePrometheusUrl, prometheus_url.h) or a
// timeout <= 0.
core::Result<std::unique_ptr<core::MetricsSource>> MakePrometheusMetricsSource(
    PrometheusOptions options);

}  // namespace mlcanary::prometheus

#endif  // MLCANARY_PROMETHEUS_PROMETHEUS_METRICS_SOURCE_H_
