// RegistryMetricsSource: the gateway's MetricsRegistry as the controller's
// core::MetricsSource port.
#ifndef MLCANARY_METRICS_REGISTRY_METRICS_SOURCE_H_
#define MLCANARY_METRICS_REGISTRY_METRICS_SOURCE_H_

#include <map>
#include <string>
#include <string_view>

#include "core/ports.h"
#include "metrics/registry.h"

namespace mlcanary::metrics {

// Reads windows straight from a MetricsRegistry it does not own (which must
// outlive it). Thread-safe, as the registry is.
class RegistryMetricsSource final : public core::MetricsSource {
 public:
  explicit RegistryMetricsSource(MetricsRegistry& registry) : registry_(registry) {}

  // Every variant of `endpoint` over the intervals ending in (start, end]; see
  // MetricsRegistry::SnapshotWindows. An endpoint without recorded traffic
  // gives an empty map (every variant then reads as invocations == 0).
  core::Result<std::map<std::string, core::WindowMetrics>> Snapshot(std::string_view endpoint,
                                                                    core::Timestamp start,
                                                                    core::Timestamp end) override;

 private:
  MetricsRegistry& registry_;
};

}  // namespace mlcanary::metrics

#endif  // MLCANARY_METRICS_REGISTRY_METRICS_SOURCE_H_
