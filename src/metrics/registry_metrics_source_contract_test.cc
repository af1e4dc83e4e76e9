// The MetricsSource contract (core/testing/metrics_source_contract.h) on
// RegistryMetricsSource: requests recorded into the gateway's registry, on a
// ManualClock moved one interval per window boundary.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/testing/metrics_source_contract.h"
#include "metrics/registry.h"
#include "metrics/registry_metrics_source.h"

namespace mlcanary::metrics {
namespace {

using core::testing::MetricsSourceContractTest;
using core::testing::MetricsSourceDriver;
using core::testing::MetricsSourceKind;
using core::testing::Requests;

constexpr core::Duration kInterval = std::chrono::seconds(1);

class RegistryDriver final : public MetricsSourceDriver {
 public:
  RegistryDriver(const std::string& endpoint, const std::vector<std::string>& variants)
      : endpoint_(endpoint) {
    // The router makes a variant's recorder when it starts serving it.
    for (const std::string& v : variants) recorders_.push_back(registry_.Variant(endpoint_, v));
  }

  core::MetricsSource& source() override { return source_; }

  void Record(const std::string& variant, const Requests& requests) override {
    const auto latency = std::chrono::nanoseconds(std::llround(requests.latency_ms * 1e6));
    auto recorder = registry_.Variant(endpoint_, variant);
    for (std::int64_t i = 0; i < requests.count; ++i) {
      recorder->Record(requests.status, latency, latency);
    }
  }

  // The start of the next interval: what was recorded lies in the intervals
  // before it, what is recorded next in the interval it opens.
  core::Timestamp Boundary() override {
    clock_.Set(std::chrono::floor<std::chrono::seconds>(clock_.Now()) + kInterval);
    registry_.Tick();
    return clock_.Now();
  }

  bool Break() override { return false; }

 private:
  std::string endpoint_;
  core::ManualClock clock_{core::Timestamp(std::chrono::seconds(1'767'225'600))};
  MetricsRegistry registry_{clock_, RegistryOptions{.interval = kInterval, .slots = 60}};
  RegistryMetricsSource source_{registry_};
  std::vector<std::shared_ptr<VariantMetrics>> recorders_;
};

MetricsSourceKind RegistryKind() {
  MetricsSourceKind kind;
  kind.name = "Registry";
  kind.make = [](const std::string& endpoint, const std::vector<std::string>& variants) {
    return std::make_unique<RegistryDriver>(endpoint, variants);
  };
  // LatencyHistogram: a quantile is its bucket's middle, within 1/128 of the sample.
  kind.latency_bounds = [](double truth_ms) {
    return std::pair{truth_ms * (1 - 1.0 / 128), truth_ms * (1 + 1.0 / 128)};
  };
  kind.unknown_endpoint = core::testing::UnknownEndpoint::kEmpty;
  return kind;
}

INSTANTIATE_TEST_SUITE_P(Registry, MetricsSourceContractTest, ::testing::Values(RegistryKind()),
                         ::testing::PrintToStringParamName());

}  // namespace
}  // namespace mlcanary::metrics
