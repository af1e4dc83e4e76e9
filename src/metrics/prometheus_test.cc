#include "metrics/prometheus.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "core/clock.h"
#include "metrics/controller_status.h"
#include "metrics/registry.h"

namespace mlcanary::metrics {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

class PrometheusTest : public ::testing::Test {
 protected:
  PrometheusTest()
      : clock_(core::Timestamp(std::chrono::sys_days(std::chrono::year(2026) / 11 / 28))),
        registry_(clock_) {
    VariantMetrics* production = registry_.Variant("recs", "production");
    VariantMetrics* canary = registry_.Variant("recs", "canary");
    for (int i = 0; i < 900; ++i)
      production->Record(200, microseconds(800 + i), microseconds(900 + i));
    for (int i = 0; i < 90; ++i)
      canary->Record(200, milliseconds(2 + i % 5), milliseconds(3 + i % 5));
    canary->Record(400, microseconds(50), microseconds(80));
    canary->Record(503, milliseconds(200), milliseconds(201));
    // Bad samples are counted, never recorded as latencies.
    canary->RecordSeconds(200, std::numeric_limits<double>::quiet_NaN(), 0.001);
    canary->Record(200, std::chrono::nanoseconds(-5), microseconds(10));
    core::Deployment d;
    d.id = "dep-1";
    d.endpoint = "recs";
    d.state = core::DeploymentState::kInProgress;
    d.canary_weight = 0.3;
    status_.Observe(d);
    status_.RecordCheck("recs", core::Verdict::kHealthy);
    status_.RecordCheck("recs", core::Verdict::kLatencyBreached);
  }

  core::ManualClock clock_;
  MetricsRegistry registry_;
  ControllerStatus status_;
};

// Value of the first sample line starting with `prefix` (name{labels}).
double Sample(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return std::numeric_limits<double>::quiet_NaN();
}

TEST_F(PrometheusTest, CountersAndHistogramsAreConsistent) {
  const std::string text = RenderPrometheus(registry_, &status_);
  EXPECT_NE(text.find("# TYPE mlcanary_invocations_total counter"), std::string::npos);
  EXPECT_NE(text.find("# TYPE mlcanary_model_latency_seconds histogram"), std::string::npos);
  EXPECT_EQ(Sample(text, "mlcanary_invocations_total{endpoint=\"recs\",variant=\"production\"}"),
            900);
  const double count = Sample(
      text, "mlcanary_model_latency_seconds_count{endpoint=\"recs\",variant=\"production\"}");
  const double inf = Sample(text,
                            "mlcanary_model_latency_seconds_bucket{endpoint=\"recs\",variant="
                            "\"production\",le=\"+Inf\"}");
  EXPECT_EQ(count, 900);
  EXPECT_EQ(inf, count);
  // Buckets are cumulative: never decreasing along the le order.
  std::istringstream in(text);
  double previous = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("mlcanary_model_latency_seconds_bucket{endpoint=\"recs\",variant=\"production\"",
                   0) != 0) {
      continue;
    }
    const double v = std::stod(line.substr(line.rfind(' ') + 1));
    EXPECT_GE(v, previous) << line;
    previous = v;
  }
  EXPECT_NE(text.find("mlcanary_canary_weight_ratio{endpoint=\"recs\",deployment=\"dep-1\"} 0.3"),
            std::string::npos)
      << text;
}

TEST_F(PrometheusTest, PassesPromtoolCheckMetrics) {
  const std::string text = RenderPrometheus(registry_, &status_);
  const auto path = std::filesystem::temp_directory_path() /
                    ("mlcanary-metrics-" + std::to_string(::getpid()) + ".prom");
  std::ofstream(path) << text;
  // promtool is Debian's `prometheus` package (scripts/install-deps installs it).
  ASSERT_EQ(std::system("command -v promtool >/dev/null 2>&1"), 0)
      << "promtool not found: run scripts/install-deps";
  const std::string command = "promtool check metrics < " + path.string() + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[512];
  while (std::fgets(buf, sizeof(buf), pipe) != nullptr) output += buf;
  const int status = ::pclose(pipe);
  std::filesystem::remove(path);
  EXPECT_EQ(status, 0) << output << "\n--- exposition ---\n" << text;
}

}  // namespace
}  // namespace mlcanary::metrics
