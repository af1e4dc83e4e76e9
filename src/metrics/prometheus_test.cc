// Tests of the Prometheus exposition: exact lines for counters and
// histograms, label escaping, the controller's state, and `promtool check
// metrics` (the Debian package `prometheus`) accepting the whole output.
#include "metrics/prometheus.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "metrics/testing/fake_process_stats_reader.h"

namespace mlcanary::metrics {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

core::Timestamp T0() { return core::Timestamp(seconds(1'767'225'600)); }

bool Contains(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

// The path of promtool, or empty.
std::string FindPromtool() {
  if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs(path);
    for (std::string dir; std::getline(dirs, dir, ':');) {
      const fs::path candidate = fs::path(dir) / "promtool";
      if (!dir.empty() && fs::exists(candidate)) return candidate.string();
    }
  }
  return fs::exists("/usr/bin/promtool") ? "/usr/bin/promtool" : "";
}

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

CommandResult RunPromtool(const std::string& promtool, const std::string& exposition) {
  const fs::path dir = fs::temp_directory_path();
  const std::string stem = "mlcanary_metrics_" +
                           std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
                           ::testing::UnitTest::GetInstance()->current_test_info()->name();
  const fs::path input = dir / (stem + ".prom");
  const fs::path output = dir / (stem + ".out");
  std::ofstream(input) << exposition;
  const std::string command = "'" + promtool + "' check metrics < '" + input.string() + "' > '" +
                              output.string() + "' 2>&1";
  const int status = std::system(command.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(output);
  std::stringstream text;
  text << in.rdbuf();
  r.output = text.str();
  fs::remove(input);
  fs::remove(output);
  return r;
}

class PrometheusTest : public ::testing::Test {
 protected:
  PrometheusTest() : clock_(T0()), registry_(clock_, Options(reader_)) {}

  static RegistryOptions Options(testing::FakeProcessStatsReader& reader) {
    reader.stats = {.cpu_seconds = 12.5, .resident_bytes = 4096, .memory_total_bytes = 8192};
    RegistryOptions o;
    o.process_stats = &reader;
    return o;
  }

  // A registry and controller with a bit of everything in them.
  void Fill() {
    auto production = registry_.Variant("recs", "production");
    auto canary = registry_.Variant("recs", "canary");
    production->Record(200, milliseconds(1), milliseconds(1) + std::chrono::microseconds(20));
    production->Record(200, milliseconds(3), milliseconds(4));
    canary->Record(404, milliseconds(20), milliseconds(21));
    canary->Record(503, seconds(90), seconds(90));
    canary->Record(200, milliseconds(-1), milliseconds(2));
    canary->RecordUtilization(75, 10);
    registry_.Variant("we\"ird\\name\n", "v")->Record(200, milliseconds(1), milliseconds(1));
    registry_.Tick();
    clock_.Advance(seconds(2));
    reader_.stats.cpu_seconds += 1;
    registry_.Tick();

    controller_.SetDeployment("recs", "d-1", core::DeploymentState::kInProgress, 0.25, false);
    controller_.RecordCheck("recs", core::Verdict::kHealthy);
    controller_.RecordCheck("recs", core::Verdict::kInconclusive);
    controller_.RecordTransition("recs", core::DeploymentState::kInProgress);
    controller_.RecordCheck("search", core::Verdict::kHealthy);  // no deployment known
  }

  testing::FakeProcessStatsReader reader_;
  core::ManualClock clock_;
  MetricsRegistry registry_;
  ControllerStatus controller_;
};

TEST_F(PrometheusTest, EmptyRegistryRendersNothing) {
  EXPECT_EQ(RenderPrometheus(MetricsRegistry(clock_), &controller_), "");
}

TEST_F(PrometheusTest, CountersCarryEndpointAndVariantLabels) {
  Fill();
  const std::string text = RenderPrometheus(registry_, &controller_);
  EXPECT_TRUE(Contains(text, "# TYPE mlcanary_invocations_total counter"));
  EXPECT_TRUE(Contains(text, R"(mlcanary_invocations_total{endpoint="recs",variant="canary"} 3)"));
  EXPECT_TRUE(
      Contains(text, R"(mlcanary_invocations_total{endpoint="recs",variant="production"} 2)"));
  EXPECT_TRUE(Contains(
      text, R"(mlcanary_invocation_4xx_errors_total{endpoint="recs",variant="canary"} 1)"));
  EXPECT_TRUE(Contains(
      text, R"(mlcanary_invocation_5xx_errors_total{endpoint="recs",variant="canary"} 1)"));
  EXPECT_TRUE(Contains(
      text,
      R"(mlcanary_invalid_samples_total{endpoint="recs",variant="canary",reason="negative_latency"} 1)"));
}

TEST_F(PrometheusTest, HistogramsAreCumulativeWithSumAndCount) {
  Fill();
  const std::string text = RenderPrometheus(registry_);
  EXPECT_TRUE(Contains(text, "# TYPE mlcanary_model_latency_seconds histogram"));
  const std::string p = R"({endpoint="recs",variant="production")";
  EXPECT_TRUE(Contains(text, "mlcanary_model_latency_seconds_bucket" + p + R"(,le="0.0005"} 0)"));
  EXPECT_TRUE(Contains(text, "mlcanary_model_latency_seconds_bucket" + p + R"(,le="0.001"} 1)"));
  EXPECT_TRUE(Contains(text, "mlcanary_model_latency_seconds_bucket" + p + R"(,le="0.0025"} 1)"));
  EXPECT_TRUE(Contains(text, "mlcanary_model_latency_seconds_bucket" + p + R"(,le="0.005"} 2)"));
  EXPECT_TRUE(Contains(text, "mlcanary_model_latency_seconds_bucket" + p + R"(,le="+Inf"} 2)"));
  EXPECT_TRUE(Contains(text, "mlcanary_model_latency_seconds_sum" + p + "} 0.004"));
  EXPECT_TRUE(Contains(text, "mlcanary_model_latency_seconds_count" + p + "} 2"));
  // 90 s is above the last finite bound.
  const std::string c = R"({endpoint="recs",variant="canary")";
  EXPECT_TRUE(Contains(text, "mlcanary_model_latency_seconds_bucket" + c + R"(,le="60"} 1)"));
  EXPECT_TRUE(Contains(text, "mlcanary_model_latency_seconds_bucket" + c + R"(,le="+Inf"} 2)"));
  EXPECT_TRUE(
      Contains(text, "mlcanary_overhead_latency_seconds_bucket" + p + R"(,le="0.00001"} 0)"));
  EXPECT_TRUE(
      Contains(text, "mlcanary_overhead_latency_seconds_bucket" + p + R"(,le="0.000025"} 1)"));
}

TEST_F(PrometheusTest, EveryHistogramIsCumulativeAndCountsItsInfBucket) {
  Fill();
  std::istringstream in(RenderPrometheus(registry_));
  std::string series;  // name{labels} of the bucket run being read, without le
  double previous = 0, inf = -1;
  int histograms = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const double value = std::stod(line.substr(line.rfind(' ') + 1));
    const auto le = line.find(",le=\"");
    if (line.find("_seconds_bucket{") != std::string::npos && le != std::string::npos) {
      const std::string key = line.substr(0, le);
      if (key != series) previous = 0;
      series = key;
      EXPECT_GE(value, previous) << line;
      previous = value;
      if (line.find("le=\"+Inf\"") != std::string::npos) inf = value;
    } else if (line.find("_seconds_count{") != std::string::npos) {
      EXPECT_EQ(value, inf) << line;
      ++histograms;
    }
  }
  EXPECT_EQ(histograms, 6);  // 3 variants x (model, overhead)
}

TEST(HookMetricsTest, HookCallsAreCountersByEndpointHookAndOutcome) {
  std::string out;
  AppendHookMetrics({}, out);
  EXPECT_EQ(out, "");  // no hook called: no family
  const std::vector<core::HookCallCount> counts = {
      {.endpoint = "recs", .hook = "confirm_step", .outcome = "ok", .calls = 3, .seconds = 0.25},
      {.endpoint = "recs", .hook = "analysis", .outcome = "breached", .calls = 1, .seconds = 1.5}};
  AppendHookMetrics(counts, out);
  EXPECT_NE(out.find("# TYPE mlcanary_hook_calls_total counter\n"), std::string::npos) << out;
  EXPECT_NE(out.find("mlcanary_hook_calls_total{endpoint=\"recs\",hook=\"confirm_step\","
                     "outcome=\"ok\"} 3\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("mlcanary_hook_call_seconds_total{endpoint=\"recs\",hook=\"analysis\","
                     "outcome=\"breached\"} 1.5\n"),
            std::string::npos)
      << out;
}

TEST_F(PrometheusTest, LabelValuesAreEscaped) {
  Fill();
  const std::string text = RenderPrometheus(registry_);
  EXPECT_TRUE(
      Contains(text, R"(mlcanary_invocations_total{endpoint="we\"ird\\name\n",variant="v"} 1)"));
}

TEST_F(PrometheusTest, ProcessAndVariantUtilizationAreGauges) {
  Fill();
  const std::string text = RenderPrometheus(registry_);
  EXPECT_TRUE(Contains(text, "process_cpu_seconds_total 13.5"));
  EXPECT_TRUE(Contains(text, "process_resident_memory_bytes 4096"));
  EXPECT_TRUE(Contains(text, "mlcanary_process_cpu_utilization_ratio 0.5"));
  EXPECT_TRUE(Contains(text, "mlcanary_process_memory_utilization_ratio 0.5"));
  EXPECT_TRUE(Contains(
      text, R"(mlcanary_variant_cpu_utilization_ratio{endpoint="recs",variant="canary"} 0.75)"));
  EXPECT_TRUE(Contains(
      text, R"(mlcanary_variant_memory_utilization_ratio{endpoint="recs",variant="canary"} 0.1)"));
}

TEST_F(PrometheusTest, ControllerStateIsExposed) {
  Fill();
  const std::string text = RenderPrometheus(registry_, &controller_);
  EXPECT_TRUE(Contains(
      text,
      R"(mlcanary_deployment_state{endpoint="recs",deployment="d-1",state="IN_PROGRESS"} 1)"));
  EXPECT_TRUE(Contains(
      text, R"(mlcanary_deployment_state{endpoint="recs",deployment="d-1",state="PENDING"} 0)"));
  EXPECT_TRUE(
      Contains(text, R"(mlcanary_canary_weight_ratio{endpoint="recs",deployment="d-1"} 0.25)"));
  EXPECT_TRUE(Contains(text, R"(mlcanary_deployment_paused{endpoint="recs",deployment="d-1"} 0)"));
  EXPECT_TRUE(
      Contains(text, R"(mlcanary_last_check_verdict{endpoint="recs",verdict="inconclusive"} 1)"));
  EXPECT_TRUE(
      Contains(text, R"(mlcanary_last_check_verdict{endpoint="recs",verdict="healthy"} 0)"));
  EXPECT_TRUE(Contains(text, R"(mlcanary_checks_total{endpoint="recs",verdict="healthy"} 1)"));
  EXPECT_TRUE(Contains(text, R"(mlcanary_checks_total{endpoint="search",verdict="healthy"} 1)"));
  EXPECT_TRUE(Contains(text, R"(mlcanary_check_errors_total{endpoint="recs"} 0)"));
  EXPECT_TRUE(
      Contains(text, R"(mlcanary_transitions_total{endpoint="recs",state="IN_PROGRESS"} 1)"));
  // No deployment known for "search": no state series for it.
  EXPECT_EQ(text.find(R"(mlcanary_deployment_state{endpoint="search")"), std::string::npos);
}

TEST_F(PrometheusTest, CheckErrorsAndUnrecordedRollbacksAreExposed) {
  Fill();
  EXPECT_EQ(RenderPrometheus(registry_, &controller_)
                .find("mlcanary_last_check_error_timestamp_seconds{"),
            std::string::npos);  // none yet
  controller_.RecordCheckError("recs", "ServiceUnavailable: store unavailable",
                               core::Timestamp(std::chrono::seconds(1767225600)));
  controller_.RecordUnrecordedRollback("recs");
  const std::string text = RenderPrometheus(registry_, &controller_);
  EXPECT_TRUE(Contains(text, R"(mlcanary_check_errors_total{endpoint="recs"} 1)"));
  EXPECT_TRUE(
      Contains(text, R"(mlcanary_last_check_error_timestamp_seconds{endpoint="recs"} 1767225600)"))
      << text;
  EXPECT_TRUE(Contains(text, R"(mlcanary_unrecorded_rollbacks_total{endpoint="recs"} 1)"));
  EXPECT_TRUE(Contains(text, R"(mlcanary_unrecorded_rollbacks_total{endpoint="search"} 0)"));
}

TEST_F(PrometheusTest, PromtoolAcceptsTheWholeExposition) {
  const std::string promtool = FindPromtool();
  ASSERT_FALSE(promtool.empty())
      << "promtool not found: install the Debian package `prometheus` (scripts/install-deps)";
  Fill();
  controller_.RecordCheckError("recs", "ServiceUnavailable: store unavailable",
                               core::Timestamp(std::chrono::seconds(1767225600)));
  const std::string text = RenderPrometheus(registry_, &controller_);
  const CommandResult r = RunPromtool(promtool, text);
  EXPECT_EQ(r.exit_code, 0) << r.output << "\n--- exposition ---\n" << text;
  EXPECT_EQ(r.output, "") << "promtool lint findings:\n" << r.output;
}

TEST_F(PrometheusTest, PromtoolRejectsABrokenExposition) {
  // Guards the test above: promtool must actually be judging the input.
  const std::string promtool = FindPromtool();
  ASSERT_FALSE(promtool.empty())
      << "promtool not found: install the Debian package `prometheus` (scripts/install-deps)";
  const CommandResult r = RunPromtool(promtool, "# TYPE x counter\nx{ 1\n");
  EXPECT_NE(r.exit_code, 0);
}

}  // namespace
}  // namespace mlcanary::metrics
