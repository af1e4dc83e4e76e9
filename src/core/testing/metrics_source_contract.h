// The MetricsSource contract (core/ports.h, core/health.h's WindowMetrics),
// run against every implementation that measures recorded traffic: the
// gateway's RegistryMetricsSource, CloudWatchMetricsSource (on the moto
// harness) and PrometheusMetricsSource (on a real Prometheus server) must
// give the controller the same window for the same requests.
//
// Header-only and defines the tests: include it in exactly one .cc file of a
// test binary, describe the implementation with a MetricsSourceKind and
// instantiate the suite:
//
//   INSTANTIATE_TEST_SUITE_P(Registry, MetricsSourceContractTest,
//                            ::testing::Values(RegistryKind()),
//                            ::testing::PrintToStringParamName());
//
// Each kind supplies a driver: it records requests where its source reads
// them (the registry's recorders, CloudWatch's PutMetricData, a /metrics page
// that Prometheus scrapes) and draws window boundaries (moving a virtual clock,
// or waiting for scrapes). What the port leaves to the implementation is a
// capability of the kind (count_tolerance, latency_bounds, unknown_endpoint),
// not a clause of the contract.
//
// Exempt: the simulator's ScenarioMetricsSource. It measures nothing: a
// window's numbers are the scenario's script (traffic x weight x minutes,
// round(error_rate x invocations), the phase's p99), so it cannot take
// recorded requests, and a driver that turned requests into a scenario would
// test that translation, not the source. scenario_test checks its formula
// against API.md, including that a variant without traffic has no latency.
#ifndef MLCANARY_CORE_TESTING_METRICS_SOURCE_CONTRACT_H_
#define MLCANARY_CORE_TESTING_METRICS_SOURCE_CONTRACT_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/health.h"
#include "core/ports.h"
#include "core/time.h"

namespace mlcanary::core::testing {

// `count` requests to one variant, each answered with `status` after
// `latency_ms` of model time.
struct Requests {
  std::int64_t count = 0;
  double latency_ms = 0;
  int status = 200;
};

// One endpoint's traffic as a source under the contract sees it. Made per test.
class MetricsSourceDriver {
 public:
  virtual ~MetricsSourceDriver() = default;
  // The source under test; it lives as long as the driver.
  virtual MetricsSource& source() = 0;
  // Records `requests` to `variant` of the driver's endpoint.
  virtual void Record(const std::string& variant, const Requests& requests) = 0;
  // A window boundary: what was recorded before this call lies before the
  // time returned, what is recorded after it lies after. Boundaries grow and
  // fall on the source's window resolution (CloudWatch: whole minutes).
  virtual Timestamp Boundary() = 0;
  // Makes the source unable to answer (its server stopped, or failing every
  // call) for the rest of the test. False when the source answers from
  // memory and has no such failure (the registry).
  virtual bool Break() = 0;
  // Runs after each test, with the source still alive (e.g. to check that
  // every request a remote source sent was well formed).
  virtual void AfterEach() {}
};

// What a source answers for an endpoint it has no data of.
enum class UnknownEndpoint {
  kEmpty,     // an empty map: it cannot tell the endpoint from an idle one
  kNotFound,  // kNotFound naming it: the source lists the endpoint's variants
              // from the TrafficControl, which does not know it
};

// One implementation under the contract.
struct MetricsSourceKind {
  std::string name;
  // A driver whose endpoint `endpoint` serves `variants` (and no traffic yet).
  // Called once per test, with an endpoint name no earlier test used.
  std::function<std::unique_ptr<MetricsSourceDriver>(const std::string& endpoint,
                                                     const std::vector<std::string>& variants)>
      make;

  // Capabilities: where implementations may differ.
  // Counts (invocations, 4XX, 5XX) are within this fraction of the recorded
  // ones; 0: exact. Prometheus's increase() extrapolates the change between
  // the scrapes inside the window to the window's edges.
  double count_tolerance = 0;
  // The range [low, high] a percentile of `truth_ms` may read as: the
  // source's histogram resolution. Unset: exact.
  std::function<std::pair<double, double>(double truth_ms)> latency_bounds;
  UnknownEndpoint unknown_endpoint = UnknownEndpoint::kEmpty;
};

// Test names and failure messages show the implementation's name.
inline void PrintTo(const MetricsSourceKind& kind, std::ostream* os) { *os << kind.name; }

class MetricsSourceContractTest : public ::testing::TestWithParam<MetricsSourceKind> {
 protected:
  void SetUp() override {
    driver_ = GetParam().make(endpoint_, {"production", "canary"});
    ASSERT_NE(driver_, nullptr);
  }
  void TearDown() override {
    if (driver_ != nullptr) driver_->AfterEach();
  }

  std::map<std::string, WindowMetrics> Snapshot(Timestamp start, Timestamp end) {
    auto snapshot = driver_->source().Snapshot(endpoint_, start, end);
    EXPECT_TRUE(snapshot) << snapshot.error().ToString();
    return snapshot ? *snapshot : std::map<std::string, WindowMetrics>{};
  }

  // The variant's window; a variant absent from the map reads as no traffic
  // (the controller's reading, controller.cc).
  static WindowMetrics Of(const std::map<std::string, WindowMetrics>& snapshot,
                          const std::string& variant) {
    const auto it = snapshot.find(variant);
    return it == snapshot.end() ? WindowMetrics{} : it->second;
  }

  void ExpectCount(std::int64_t got, std::int64_t truth, const std::string& what) {
    const double tolerance = GetParam().count_tolerance * static_cast<double>(truth);
    EXPECT_NEAR(static_cast<double>(got), static_cast<double>(truth), tolerance)
        << what << " (recorded " << truth << ")";
  }

  void ExpectLatency(double got_ms, double truth_ms, const std::string& what) {
    EXPECT_GT(got_ms, 0) << what << ": a latency of 0 reads as infinitely fast";
    if (GetParam().latency_bounds) {
      const auto [low, high] = GetParam().latency_bounds(truth_ms);
      EXPECT_GE(got_ms, low) << what << " (recorded " << truth_ms << " ms)";
      EXPECT_LE(got_ms, high) << what << " (recorded " << truth_ms << " ms)";
    } else {
      EXPECT_DOUBLE_EQ(got_ms, truth_ms) << what;
    }
  }

  // No traffic: no invocations, no errors and no latency to judge.
  static void ExpectNoTraffic(const WindowMetrics& m, const std::string& what) {
    EXPECT_FALSE(m.has_data()) << what;
    EXPECT_EQ(m.invocations, 0) << what;
    EXPECT_EQ(m.errors_4xx, 0) << what;
    EXPECT_EQ(m.errors_5xx, 0) << what;
    EXPECT_EQ(m.p50_ms, 0) << what << ": latency of no request";
    EXPECT_EQ(m.p90_ms, 0) << what << ": latency of no request";
    EXPECT_EQ(m.p99_ms, 0) << what << ": latency of no request";
  }

  static std::string NewEndpointName() {
    static int count = 0;
    return "ms" + std::to_string(++count) + "-recs";
  }

  const std::string endpoint_ = NewEndpointName();
  std::unique_ptr<MetricsSourceDriver> driver_;
};

// --- Counts and latency ------------------------------------------------------------

TEST_P(MetricsSourceContractTest, CountsTheWindowsRequestsAndTheirErrorsPerVariant) {
  const Timestamp start = driver_->Boundary();
  // production: 300 at 4 ms, 3 of them 5XX.
  driver_->Record("production", {.count = 297, .latency_ms = 4});
  driver_->Record("production", {.count = 3, .latency_ms = 4, .status = 503});
  // canary: 200, 196 at 10 ms and 4 at 40 ms (its p99: 40 ms); 8 4XX, 6 5XX.
  driver_->Record("canary", {.count = 182, .latency_ms = 10});
  driver_->Record("canary", {.count = 8, .latency_ms = 10, .status = 404});
  driver_->Record("canary", {.count = 6, .latency_ms = 10, .status = 500});
  driver_->Record("canary", {.count = 4, .latency_ms = 40});
  const Timestamp end = driver_->Boundary();

  const auto snapshot = Snapshot(start, end);
  const WindowMetrics production = Of(snapshot, "production");
  const WindowMetrics canary = Of(snapshot, "canary");
  ExpectCount(production.invocations, 300, "production invocations");
  ExpectCount(production.errors_4xx, 0, "production 4XX");
  ExpectCount(production.errors_5xx, 3, "production 5XX");
  ExpectCount(canary.invocations, 200, "canary invocations");
  ExpectCount(canary.errors_4xx, 8, "canary 4XX");
  ExpectCount(canary.errors_5xx, 6, "canary 5XX");
  ExpectLatency(production.p99_ms, 4, "production p99");
  ExpectLatency(production.p50_ms, 4, "production p50");
  ExpectLatency(canary.p99_ms, 40, "canary p99");
  ExpectLatency(canary.p50_ms, 10, "canary p50");
}

// --- No traffic ----------------------------------------------------------------------

TEST_P(MetricsSourceContractTest, AVariantWithoutTrafficInTheWindowHasNoLatency) {
  const Timestamp start = driver_->Boundary();
  driver_->Record("production", {.count = 100, .latency_ms = 20});
  const Timestamp end = driver_->Boundary();
  const auto snapshot = Snapshot(start, end);
  ExpectCount(Of(snapshot, "production").invocations, 100, "production invocations");
  ExpectNoTraffic(Of(snapshot, "canary"), "canary, which got no request");
}

TEST_P(MetricsSourceContractTest, AQuietWindowAfterTrafficCarriesNothingOver) {
  const Timestamp start = driver_->Boundary();
  driver_->Record("production", {.count = 100, .latency_ms = 20});
  driver_->Record("canary", {.count = 50, .latency_ms = 30, .status = 500});
  const Timestamp middle = driver_->Boundary();
  const Timestamp end = driver_->Boundary();
  const auto quiet = Snapshot(middle, end);
  ExpectNoTraffic(Of(quiet, "production"), "production in the quiet window");
  ExpectNoTraffic(Of(quiet, "canary"), "canary in the quiet window");
  // The traffic is still in its own window.
  const auto busy = Snapshot(start, middle);
  ExpectCount(Of(busy, "canary").errors_5xx, 50, "canary 5XX in the busy window");
}

// --- Windows -------------------------------------------------------------------------

TEST_P(MetricsSourceContractTest, AWindowSinceTheLastCheckCountsNothingFromBeforeIt) {
  const Timestamp first = driver_->Boundary();
  driver_->Record("canary", {.count = 60, .latency_ms = 50, .status = 500});
  const Timestamp last_check = driver_->Boundary();
  driver_->Record("canary", {.count = 40, .latency_ms = 5});
  const Timestamp now = driver_->Boundary();

  const WindowMetrics since = Of(Snapshot(last_check, now), "canary");
  ExpectCount(since.invocations, 40, "canary invocations since the last check");
  ExpectCount(since.errors_5xx, 0, "canary 5XX since the last check");
  ExpectLatency(since.p99_ms, 5, "canary p99 since the last check");
  // Consecutive windows count each request once.
  const WindowMetrics before = Of(Snapshot(first, last_check), "canary");
  ExpectCount(before.invocations, 60, "canary invocations before the last check");
  ExpectCount(before.errors_5xx, 60, "canary 5XX before the last check");
  ExpectLatency(before.p99_ms, 50, "canary p99 before the last check");
}

// --- Unknown endpoints and variants --------------------------------------------------

TEST_P(MetricsSourceContractTest, AnUnknownEndpointIsEmptyOrNotFoundAsTheKindSays) {
  const Timestamp start = driver_->Boundary();
  driver_->Record("canary", {.count = 10, .latency_ms = 10});
  const Timestamp end = driver_->Boundary();
  const std::string unknown = endpoint_ + "-never-served";
  auto snapshot = driver_->source().Snapshot(unknown, start, end);
  if (GetParam().unknown_endpoint == UnknownEndpoint::kEmpty) {
    ASSERT_TRUE(snapshot) << snapshot.error().ToString();
    EXPECT_THAT(*snapshot, ::testing::IsEmpty()) << "another endpoint's traffic, or invented";
  } else {
    ASSERT_FALSE(snapshot) << "answered for an endpoint that does not exist";
    EXPECT_EQ(snapshot.error().code(), ErrorCode::kNotFound) << snapshot.error().ToString();
    EXPECT_THAT(snapshot.error().message(), ::testing::HasSubstr(unknown));
  }
  // A variant the endpoint does not serve reads as no traffic.
  const auto known = Snapshot(start, end);
  ExpectNoTraffic(Of(known, "never-served"), "a variant the endpoint does not serve");
  ExpectCount(Of(known, "canary").invocations, 10, "canary invocations");
}

// --- A source that cannot answer -----------------------------------------------------

TEST_P(MetricsSourceContractTest, ASourceThatCannotAnswerReturnsAnErrorNeverAVerdict) {
  const Timestamp start = driver_->Boundary();
  driver_->Record("canary", {.count = 10, .latency_ms = 10});
  const Timestamp end = driver_->Boundary();
  if (!driver_->Break()) {
    GTEST_SKIP() << GetParam().name << " answers from memory: nothing to break";
  }
  auto snapshot = driver_->source().Snapshot(endpoint_, start, end);
  ASSERT_FALSE(snapshot) << "a source that cannot answer gave a window (" << snapshot->size()
                         << " variants): the controller would judge it";
  // The controller holds the deployment and retries (README "Run the service").
  EXPECT_TRUE(snapshot.error().retryable()) << snapshot.error().ToString();
  EXPECT_THAT(snapshot.error().message(), ::testing::Not(::testing::IsEmpty()));
}

}  // namespace mlcanary::core::testing

#endif  // MLCANARY_CORE_TESTING_METRICS_SOURCE_CONTRACT_H_
