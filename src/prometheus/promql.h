// The PromQL that judges one endpoint's variants over one check window, and the
// text rules it needs (label values quoted, ranges and evaluation times).
// Pure: no I/O.
#ifndef MLCANARY_PROMETHEUS_PROMQL_H_
#define MLCANARY_PROMETHEUS_PROMQL_H_

#include <string>
#include <string_view>

#include "core/time.h"

namespace mlcanary::prometheus {

// `text` as a PromQL double-quoted string: "recs", with \ " and control
// characters escaped (\\, \", \n, \xHH), so any endpoint name is one value.
std::string QuoteString(std::string_view text);

// A range selector's duration: whole seconds as "60s", else milliseconds
// ("1500ms"). REQUIRES: range > 0.
std::string FormatRange(core::Duration range);

// An evaluation time as the query API's `time` parameter: Unix seconds with
// milliseconds ("1700000000.250").
std::string FormatEvalTime(core::Timestamp t);

// Every query of one check, all evaluated at the window's end over the
// window's length. Each is summed across instances (replicas) by variant.
struct WindowQueries {
  std::string invocations;  // increase of mlcanary_invocations_total
  std::string errors_4xx;   // increase of mlcanary_invocation_4xx_errors_total
  std::string errors_5xx;   // increase of mlcanary_invocation_5xx_errors_total
  std::string p50;          // histogram_quantile over mlcanary_model_latency_seconds, seconds
  std::string p90;
  std::string p99;
  std::string overhead;        // mean of mlcanary_overhead_latency_seconds, seconds
  std::string variant_cpu;     // mean of mlcanary_variant_cpu_utilization_ratio
  std::string variant_memory;  // mean of mlcanary_variant_memory_utilization_ratio
  std::string process_cpu;     // mean over replicas of mlcanary_process_cpu_..._ratio
  std::string process_memory;  // mean over replicas of mlcanary_process_memory_..._ratio
};

// `job`: when not empty, every selector also matches job="<job>" (one fleet
// among several scraped by the same Prometheus). REQUIRES: range > 0.
WindowQueries BuildWindowQueries(std::string_view endpoint, std::string_view job,
                                 core::Duration range);

}  // namespace mlcanary::prometheus

#endif  // MLCANARY_PROMETHEUS_PROMQL_H_
