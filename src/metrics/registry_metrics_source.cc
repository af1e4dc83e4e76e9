// RegistryMetricsSource: a thin forward to MetricsRegistry::Snapshot.
#include "metrics/registry_metrics_source.h"

namespace mlcanary::metrics {

core::Result<std::map<std::string, core::WindowMetrics>> RegistryMetricsSource::Snapshot(
    std::string_view endpoint, core::Timestamp start, core::Timestamp end) {
  return registry_.Snapshot(endpoint, start, end);
}

}  // namespace mlcanary::metrics
