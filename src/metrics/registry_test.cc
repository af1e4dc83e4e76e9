// Tests of MetricsRegistry and VariantMetrics: counting, windows over the
// interval ring, consistency under concurrent recorders, variant removal, bad
// input, and utilization sampling. Time is a ManualClock moved by the test.
#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "metrics/prediction_layout.h"
#include "metrics/testing/fake_process_stats_reader.h"

namespace mlcanary::metrics {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

core::Timestamp T0() {
  // 2026-01-01T00:00:00Z, on an interval boundary.
  return core::Timestamp(milliseconds(1'767'225'600'000));
}

class MetricsRegistryTest : public ::testing::Test {
 protected:
  MetricsRegistryTest() : clock_(T0()), registry_(clock_, Options()) {}

  static RegistryOptions Options() {
    RegistryOptions o;
    o.interval = seconds(1);
    o.slots = 60;
    return o;
  }

  // Moves the clock and lets the registry see it.
  void Advance(core::Duration d) {
    clock_.Advance(d);
    registry_.Tick();
  }

  core::WindowMetrics Window(std::string_view endpoint, std::string_view variant,
                             core::Timestamp start, core::Timestamp end) {
    auto snap = registry_.Snapshot(endpoint, start, end);
    EXPECT_TRUE(snap.has_value());
    if (!snap) return {};
    auto it = snap->find(std::string(variant));
    return it == snap->end() ? core::WindowMetrics{} : it->second;
  }

  core::ManualClock clock_;
  MetricsRegistry registry_;
};

TEST_F(MetricsRegistryTest, CountsInvocationsAndErrorsByClass) {
  auto v = registry_.Variant("recs", "production");
  for (int i = 0; i < 90; ++i) v->Record(200, milliseconds(10), milliseconds(11));
  for (int i = 0; i < 6; ++i) v->Record(404, milliseconds(1), milliseconds(1));
  for (int i = 0; i < 4; ++i) v->Record(503, milliseconds(30), milliseconds(31));
  Advance(seconds(1));

  const core::WindowMetrics w = Window("recs", "production", T0(), clock_.Now());
  EXPECT_EQ(w.invocations, 100);
  EXPECT_EQ(w.errors_4xx, 6);
  EXPECT_EQ(w.errors_5xx, 4);
  EXPECT_DOUBLE_EQ(w.error_rate(), 0.10);
}

TEST_F(MetricsRegistryTest, VariantReturnsTheSamePointerEveryTime) {
  auto a = registry_.Variant("recs", "canary");
  EXPECT_EQ(registry_.Variant("recs", "canary"), a);
  EXPECT_NE(registry_.Variant("recs", "production"), a);
  EXPECT_NE(registry_.Variant("other", "canary"), a);
  EXPECT_EQ(a->endpoint(), "recs");
  EXPECT_EQ(a->variant(), "canary");
}

TEST_F(MetricsRegistryTest, PercentilesAndOverheadComeFromTheWindow) {
  auto v = registry_.Variant("recs", "canary");
  // 1..1000 ms, each with 2 ms of gateway overhead.
  for (int ms = 1; ms <= 1000; ++ms) v->Record(200, milliseconds(ms), milliseconds(ms + 2));
  Advance(seconds(1));

  const core::WindowMetrics w = Window("recs", "canary", T0(), clock_.Now());
  EXPECT_EQ(w.invocations, 1000);
  EXPECT_NEAR(w.p50_ms, 500, 500 * 0.01);
  EXPECT_NEAR(w.p90_ms, 900, 900 * 0.01);
  EXPECT_NEAR(w.p99_ms, 990, 990 * 0.01);
  EXPECT_DOUBLE_EQ(w.overhead_ms, 2.0);

  auto windows = registry_.SnapshotWindows("recs", T0(), clock_.Now());
  ASSERT_TRUE(windows.has_value());
  const VariantWindow& vw = windows->at("canary");
  EXPECT_EQ(vw.model_latency.max(), milliseconds(1000));  // exact
  EXPECT_EQ(vw.overhead_mean(), milliseconds(2));
}

TEST_F(MetricsRegistryTest, OpenIntervalIsCountedOnlyOnceItCloses) {
  auto v = registry_.Variant("recs", "canary");
  Advance(milliseconds(200));
  v->Record(200, milliseconds(5), milliseconds(6));
  EXPECT_EQ(Window("recs", "canary", T0(), clock_.Now()).invocations, 0);
  Advance(milliseconds(800));
  EXPECT_EQ(Window("recs", "canary", T0(), clock_.Now()).invocations, 1);
}

TEST_F(MetricsRegistryTest, ConsecutiveWindowsCountEveryIntervalExactlyOnce) {
  auto v = registry_.Variant("recs", "canary");
  std::int64_t total = 0;
  for (int i = 0; i < 10; ++i) {
    for (int k = 0; k <= i; ++k) v->Record(200, milliseconds(1), milliseconds(1));
    total += i + 1;
    Advance(seconds(1));
  }
  // Unaligned cut points: each interval lands in the window holding its end.
  const core::Timestamp cuts[] = {T0(), T0() + milliseconds(2500), T0() + milliseconds(6100),
                                  T0() + seconds(10)};
  std::int64_t sum = 0;
  for (int i = 0; i + 1 < 4; ++i) sum += Window("recs", "canary", cuts[i], cuts[i + 1]).invocations;
  EXPECT_EQ(sum, total);
  // (0, 2.5]: intervals ending at 1 s and 2 s hold 1 + 2 requests.
  EXPECT_EQ(Window("recs", "canary", cuts[0], cuts[1]).invocations, 3);
}

TEST(MetricsRegistryWindowTest, AnyWindowSumsExactlyItsIntervals) {
  // Long windows read pre-summed groups of 10 and 100 intervals; whatever the
  // cut points, the result must equal the sum over the single intervals.
  core::ManualClock clock(T0());
  RegistryOptions options;
  options.slots = 300;
  MetricsRegistry registry(clock, options);
  auto v = registry.Variant("recs", "canary");
  constexpr int kIntervals = 450;
  for (int i = 0; i < kIntervals; ++i) {
    for (int k = 0; k < i % 7 + 1; ++k) v->Record(200, milliseconds(1 + i), milliseconds(2 + i));
    clock.Advance(seconds(1));
    registry.Tick();
  }
  // Interval i (0-based from T0) holds i % 7 + 1 requests; the ring keeps the
  // last 300 (the open one included), i.e. intervals >= kIntervals - 299.
  std::mt19937 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    int a = std::uniform_int_distribution<int>(0, kIntervals)(rng);
    int b = std::uniform_int_distribution<int>(0, kIntervals)(rng);
    if (a > b) std::swap(a, b);
    const int a_ms = a * 1000 + std::uniform_int_distribution<int>(0, 999)(rng);
    const int b_ms = b * 1000 + std::uniform_int_distribution<int>(0, 999)(rng);
    if (a_ms > b_ms) continue;
    std::int64_t expected = 0;
    for (int i = std::max(a, kIntervals - 299); i < b_ms / 1000; ++i) expected += i % 7 + 1;
    auto windows =
        registry.SnapshotWindows("recs", T0() + milliseconds(a_ms), T0() + milliseconds(b_ms));
    ASSERT_TRUE(windows.has_value());
    const VariantWindow& w = windows->at("canary");
    ASSERT_EQ(w.invocations, expected) << a_ms << " .. " << b_ms;
    ASSERT_EQ(w.model_latency.count(), static_cast<std::uint64_t>(expected));
    ASSERT_EQ(w.overhead_count, expected);
  }
}

TEST_F(MetricsRegistryTest, WithoutTicksBetweenChecksRequestsLandInTheNextWindow) {
  // Only snapshots tick (no background thread): what was recorded since the
  // previous check must still show in the next one.
  auto v = registry_.Variant("recs", "canary");
  core::Timestamp last_check = T0();
  for (int check = 1; check <= 3; ++check) {
    for (int i = 0; i < 50; ++i) v->Record(200, milliseconds(1), milliseconds(1));
    clock_.Advance(seconds(30));  // no Tick()
    EXPECT_EQ(Window("recs", "canary", last_check, clock_.Now()).invocations, 50) << check;
    last_check = clock_.Now();
  }
}

TEST_F(MetricsRegistryTest, SnapshotReadsEveryVariantOfTheEndpointOnly) {
  registry_.Variant("recs", "production")->Record(200, milliseconds(1), milliseconds(1));
  registry_.Variant("recs", "canary")->Record(500, milliseconds(1), milliseconds(1));
  registry_.Variant("search", "production")->Record(200, milliseconds(1), milliseconds(1));
  Advance(seconds(1));

  auto snap = registry_.Snapshot("recs", T0(), clock_.Now());
  ASSERT_TRUE(snap.has_value());
  ASSERT_EQ(snap->size(), 2u);
  EXPECT_EQ(snap->at("production").invocations, 1);
  EXPECT_EQ(snap->at("canary").errors_5xx, 1);
}

TEST_F(MetricsRegistryTest, UnknownEndpointGivesAnEmptyMap) {
  auto snap = registry_.Snapshot("nope", T0(), clock_.Now());
  ASSERT_TRUE(snap.has_value());
  EXPECT_TRUE(snap->empty());
}

TEST_F(MetricsRegistryTest, WindowEndingBeforeItStartsIsAValidationError) {
  auto snap = registry_.Snapshot("recs", T0() + seconds(5), T0());
  ASSERT_FALSE(snap.has_value());
  EXPECT_EQ(snap.error().code(), core::ErrorCode::kValidation);
}

TEST_F(MetricsRegistryTest, IntervalsOlderThanTheRingAreNotReported) {
  auto v = registry_.Variant("recs", "canary");
  v->Record(200, milliseconds(1), milliseconds(1));
  Advance(seconds(1));
  v->Record(200, milliseconds(1), milliseconds(1));  // folds the first interval
  Advance(seconds(100));                             // the ring keeps 60
  EXPECT_EQ(Window("recs", "canary", T0(), clock_.Now()).invocations, 0);
}

TEST_F(MetricsRegistryTest, RemovedVariantLeavesSnapshotsAndTotalsAtOnce) {
  registry_.Variant("recs", "production")->Record(200, milliseconds(1), milliseconds(1));
  registry_.Variant("recs", "canary")->Record(200, milliseconds(1), milliseconds(1));
  registry_.RemoveVariant("recs", "canary");
  registry_.RemoveVariant("recs", "ghost");  // unknown: nothing happens
  registry_.RemoveVariant("nope", "canary");
  Advance(seconds(1));

  auto snap = registry_.Snapshot("recs", T0(), clock_.Now());
  ASSERT_TRUE(snap.has_value());
  EXPECT_EQ(snap->count("canary"), 0u);
  EXPECT_EQ(snap->at("production").invocations, 1);
  for (const VariantTotals& t : registry_.Totals()) EXPECT_NE(t.variant, "canary");
}

TEST_F(MetricsRegistryTest, RemovedVariantsRecorderIsFreedWhenItsLastHolderLetsGo) {
  auto production = registry_.Variant("recs", "production");
  EXPECT_EQ(registry_.live_recorders(), 1);
  // A rollout a day, each canary under a new name: nothing may pile up.
  for (int i = 0; i < 50; ++i) {
    const std::string name = "canary-v" + std::to_string(i);
    registry_.Variant("recs", name)->Record(200, milliseconds(3), milliseconds(4));
    EXPECT_EQ(registry_.live_recorders(), 2);
    registry_.RemoveVariant("recs", name);
    EXPECT_EQ(registry_.live_recorders(), 1) << name;
  }
  // A request still in flight on a removed variant holds its recorder: it
  // records safely (not reported), and the recorder goes with the request.
  auto in_flight = registry_.Variant("recs", "canary");
  in_flight->Record(200, milliseconds(1), milliseconds(1));
  registry_.RemoveVariant("recs", "canary");
  EXPECT_EQ(registry_.live_recorders(), 2);
  in_flight->Record(503, milliseconds(1), milliseconds(1));
  // The same name again is a new recorder, counting from zero.
  auto again = registry_.Variant("recs", "canary");
  EXPECT_NE(again, in_flight);
  EXPECT_EQ(registry_.live_recorders(), 3);
  in_flight.reset();
  EXPECT_EQ(registry_.live_recorders(), 2);
  again->Record(200, milliseconds(1), milliseconds(1));
  Advance(seconds(1));
  const core::WindowMetrics w = Window("recs", "canary", T0(), clock_.Now());
  EXPECT_EQ(w.invocations, 1);
  EXPECT_EQ(w.errors_5xx, 0);
  for (const VariantTotals& t : registry_.Totals()) {
    if (t.variant == "canary") {
      EXPECT_EQ(t.invocations, 1u);
    }
  }
}

TEST(MetricsRegistryLifetimeTest, RecordersTheRegistryStillHoldsAreFreedWithIt) {
  core::ManualClock clock(T0());
  std::optional<MetricsRegistry> registry(std::in_place, clock);
  registry->Variant("recs", "production");
  registry->Variant("recs", "canary");
  EXPECT_EQ(registry->live_recorders(), 2);
  registry.reset();  // would leak (LeakSanitizer) or touch freed memory otherwise
}

// Recorders removed while other threads record into them, snapshot them and
// render their totals: whoever still holds one keeps it alive, and it is freed
// only after the last holder is done. A use after free here is a crash or an
// AddressSanitizer report (make test-asan).
TEST(MetricsRegistryConcurrencyTest, VariantsRemovedWhileRecordedAndReadAreFreedSafely) {
  core::ManualClock clock(T0());
  MetricsRegistry registry(clock);
  registry.Variant("recs", "production");
  constexpr int kRollouts = 300;
  // The current canary, as a routing table would publish it.
  std::atomic<std::shared_ptr<VariantMetrics>> published;
  std::atomic<bool> done{false};
  std::atomic<std::int64_t> recorded{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      while (!done.load()) {
        if (std::shared_ptr<VariantMetrics> v = published.load()) {
          for (int i = 0; i < 50; ++i) v->Record(200, milliseconds(2), milliseconds(3));
          recorded.fetch_add(50);
        }
      }
    });
  }
  threads.emplace_back([&] {  // the controller's checks and /metrics scrapes
    while (!done.load()) {
      auto snap = registry.Snapshot("recs", T0(), clock.Now());
      EXPECT_TRUE(snap.has_value());
      EXPECT_FALSE(registry.Totals().empty());  // production at least
    }
  });
  for (int r = 0; r < kRollouts; ++r) {
    const std::string name = "canary-" + std::to_string(r);
    published.store(registry.Variant("recs", name));
    std::this_thread::yield();
    published.store(nullptr);              // the variant leaves the routing table
    registry.RemoveVariant("recs", name);  // and the registry
  }
  done.store(true);
  for (auto& t : threads) t.join();
  EXPECT_GT(recorded.load(), 0);
  EXPECT_EQ(registry.live_recorders(), 1);
}

TEST_F(MetricsRegistryTest, BadLatenciesAreCountedAndNeverReachThePercentiles) {
  auto v = registry_.Variant("recs", "canary");
  for (int i = 0; i < 100; ++i) v->Record(200, milliseconds(10), milliseconds(12));
  v->Record(200, nanoseconds(-5), milliseconds(1));              // negative
  v->Record(200, std::chrono::hours(2), std::chrono::hours(2));  // absurd (both)
  v->Record(200, nanoseconds::min(), nanoseconds(0));            // "not a duration": NaN
  v->RecordSeconds(200, std::nan(""), 0.01);                     // NaN
  v->RecordSeconds(200, std::numeric_limits<double>::infinity(), 0.01);
  v->RecordSeconds(200, -std::numeric_limits<double>::infinity(), 0.01);
  v->RecordSeconds(200, 1e300, 1e300);
  v->Record(200, milliseconds(10), milliseconds(4));  // total < model: overhead clamped
  Advance(seconds(1));

  auto windows = registry_.SnapshotWindows("recs", T0(), clock_.Now());
  ASSERT_TRUE(windows.has_value());
  const VariantWindow& w = windows->at("canary");
  EXPECT_EQ(w.invocations, 108);             // the requests happened
  EXPECT_EQ(w.model_latency.count(), 101u);  // only sane latencies were kept
  EXPECT_EQ(w.model_latency.max(), milliseconds(10));
  EXPECT_EQ(w.invalid_samples, 10);
  const core::WindowMetrics m = w.ToWindowMetrics();
  EXPECT_NEAR(m.p99_ms, 10, 0.1);
  EXPECT_FALSE(std::isnan(m.overhead_ms));

  const std::vector<VariantTotals> totals = registry_.Totals();
  ASSERT_EQ(totals.size(), 1u);
  const auto& invalid = totals[0].invalid;
  EXPECT_EQ(invalid[static_cast<int>(InvalidSample::kNegativeLatency)], 2u);
  EXPECT_EQ(invalid[static_cast<int>(InvalidSample::kAbsurdLatency)], 5u);
  EXPECT_EQ(invalid[static_cast<int>(InvalidSample::kNanLatency)], 2u);
  EXPECT_EQ(invalid[static_cast<int>(InvalidSample::kNegativeOverhead)], 1u);
  EXPECT_EQ(totals[0].invocations, 108u);
}

TEST_F(MetricsRegistryTest, StatusOutsideHttpRangeCountsAsServerErrorAndInvalid) {
  auto v = registry_.Variant("recs", "canary");
  v->Record(0, milliseconds(1), milliseconds(1));
  v->Record(-3, milliseconds(1), milliseconds(1));
  v->Record(999, milliseconds(1), milliseconds(1));
  v->Record(302, milliseconds(1), milliseconds(1));
  Advance(seconds(1));
  const core::WindowMetrics w = Window("recs", "canary", T0(), clock_.Now());
  EXPECT_EQ(w.invocations, 4);
  EXPECT_EQ(w.errors_5xx, 3);
  EXPECT_EQ(w.errors_4xx, 0);
  EXPECT_EQ(registry_.Totals()[0].invalid[static_cast<int>(InvalidSample::kInvalidStatus)], 3u);
}

TEST_F(MetricsRegistryTest, TotalsCountIntoExportBucketsExactlyAtTheirBounds) {
  auto v = registry_.Variant("recs", "canary");
  v->Record(200, milliseconds(1), milliseconds(1));                   // le 0.001
  v->Record(200, milliseconds(1) + nanoseconds(1), milliseconds(2));  // le 0.0025
  v->Record(200, seconds(61), seconds(61));                           // +Inf
  const VariantTotals t = registry_.Totals().at(0);
  EXPECT_EQ(t.model_buckets[6], 1u);  // kExportBucketBoundsNs[6] == 1 ms
  EXPECT_EQ(t.model_buckets[7], 1u);
  EXPECT_EQ(t.model_buckets[kNumExportBuckets - 1], 1u);
  EXPECT_EQ(t.model_sum, milliseconds(2) + nanoseconds(1) + seconds(61));
  // Overheads 0, 999'999 ns and 0.
  EXPECT_EQ(t.overhead_buckets[0], 2u);
  EXPECT_EQ(t.overhead_buckets[6], 1u);
  EXPECT_EQ(t.overhead_sum, nanoseconds(999'999));
}

TEST(MetricsRegistryConcurrencyTest, ManyThreadsLoseNothingWhileIntervalsTurnAndReadersRead) {
  core::ManualClock clock(T0());
  RegistryOptions options;
  options.slots = 120;
  MetricsRegistry registry(clock, options);
  auto canary = registry.Variant("recs", "canary");
  auto production = registry.Variant("recs", "production");

  constexpr int kThreads = 4;
  constexpr int kPerThread = 200'000;
  std::atomic<bool> go{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < kPerThread; ++i) {
        VariantMetrics* v = (i % 2 == 0) ? canary.get() : production.get();
        v->Record(i % 100 == 0 ? 500 : 200, milliseconds(1 + (i + t) % 50), milliseconds(60));
      }
    });
  }
  go.store(true);
  // Turn intervals and read while the writers run; every read must be sane.
  std::int64_t previous = 0;
  for (int tick = 0; tick < 100; ++tick) {
    clock.Advance(seconds(1));
    auto snap = registry.Snapshot("recs", T0(), clock.Now());
    ASSERT_TRUE(snap.has_value());
    const std::int64_t seen = snap->at("canary").invocations + snap->at("production").invocations;
    EXPECT_GE(seen, previous);
    EXPECT_LE(seen, std::int64_t{kThreads} * kPerThread);
    previous = seen;
  }
  for (auto& w : writers) w.join();
  clock.Advance(seconds(1));
  auto snap = registry.Snapshot("recs", T0(), clock.Now());
  ASSERT_TRUE(snap.has_value());
  EXPECT_EQ(snap->at("canary").invocations + snap->at("production").invocations,
            std::int64_t{kThreads} * kPerThread);
  EXPECT_EQ(snap->at("canary").errors_5xx + snap->at("production").errors_5xx,
            std::int64_t{kThreads} * kPerThread / 100);
  std::uint64_t totals = 0;
  for (const VariantTotals& t : registry.Totals()) totals += t.invocations;
  EXPECT_EQ(totals, std::uint64_t{kThreads} * kPerThread);
}

TEST(MetricsRegistryConcurrencyTest, ThreadsBeyondTheShardSlotsShareAnOverflowShard) {
  core::ManualClock clock(T0());
  MetricsRegistry registry(clock);
  auto v = registry.Variant("recs", "canary");
  // More live threads than shard slots (256): the rest record under a mutex.
  constexpr int kThreads = 300;
  std::atomic<int> ready{0};
  std::atomic<bool> release{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) v->Record(200, milliseconds(2), milliseconds(3));
      ready.fetch_add(1);
      while (!release.load()) std::this_thread::yield();  // keep the slot held
    });
  }
  while (ready.load() < kThreads) std::this_thread::yield();
  release.store(true);
  for (auto& t : threads) t.join();
  clock.Advance(seconds(1));
  auto snap = registry.Snapshot("recs", T0(), clock.Now());
  ASSERT_TRUE(snap.has_value());
  EXPECT_EQ(snap->at("canary").invocations, kThreads * 100);
  EXPECT_NEAR(snap->at("canary").p99_ms, 2.0, 0.02);
}

TEST(MetricsRegistryUtilizationTest, ProcessSamplesAverageOverTheWindow) {
  core::ManualClock clock(T0());
  testing::FakeProcessStatsReader reader;
  reader.stats = {.cpu_seconds = 10, .resident_bytes = 100, .memory_total_bytes = 1000};
  RegistryOptions options;
  options.process_stats = &reader;
  options.sample_period = seconds(1);
  MetricsRegistry registry(clock, options);
  registry.Variant("recs", "production")->Record(200, milliseconds(1), milliseconds(1));
  registry.Tick();  // first sample: memory only
  for (int i = 0; i < 4; ++i) {
    clock.Advance(seconds(1));
    reader.stats.cpu_seconds += 0.5;  // half a core
    reader.stats.resident_bytes = 200;
    registry.Tick();
  }
  clock.Advance(seconds(1));
  auto snap = registry.Snapshot("recs", T0(), clock.Now());
  ASSERT_TRUE(snap.has_value());
  const core::WindowMetrics& w = snap->at("production");
  ASSERT_TRUE(w.cpu_utilization.has_value());
  EXPECT_NEAR(*w.cpu_utilization, 50.0, 1e-9);
  ASSERT_TRUE(w.memory_utilization.has_value());
  EXPECT_NEAR(*w.memory_utilization, (10.0 + 4 * 20.0) / 5, 1e-9);

  const auto last = registry.LastProcessUtilization();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->stats.resident_bytes, 200);
}

TEST(MetricsRegistryUtilizationTest, SamplingIsRateLimitedAndSurvivesReadFailures) {
  core::ManualClock clock(T0());
  testing::FakeProcessStatsReader reader;
  RegistryOptions options;
  options.process_stats = &reader;
  options.sample_period = seconds(10);
  MetricsRegistry registry(clock, options);
  registry.Tick();
  registry.Tick();
  EXPECT_EQ(reader.reads, 1);
  reader.fail = true;
  clock.Advance(seconds(10));
  registry.Tick();
  EXPECT_EQ(reader.reads, 2);
  EXPECT_TRUE(registry.LastProcessUtilization().has_value());  // the earlier sample stays
}

TEST(MetricsRegistryUtilizationTest, VariantWithItsOwnProcessReportsItsOwnUtilization) {
  core::ManualClock clock(T0());
  MetricsRegistry registry(clock);
  auto v = registry.Variant("recs", "canary");
  v->RecordUtilization(150, 30);
  v->RecordUtilization(std::nan(""), -1);  // ignored
  clock.Advance(seconds(1));
  auto snap = registry.Snapshot("recs", T0(), clock.Now());
  ASSERT_TRUE(snap.has_value());
  EXPECT_EQ(snap->at("canary").cpu_utilization, 150.0);
  EXPECT_EQ(snap->at("canary").memory_utilization, 30.0);
  EXPECT_EQ(registry.Totals().at(0).cpu_utilization, 150.0);
}

TEST(MetricsRegistryTickTest, BackgroundTickerFollowsTheClock) {
  // A clock safe to move while the ticker thread reads it.
  class AtomicClock final : public core::Clock {
   public:
    core::Timestamp Now() const override { return core::Timestamp(milliseconds(ms.load())); }
    std::atomic<std::int64_t> ms{T0().time_since_epoch().count()};
  };
  AtomicClock clock;
  RegistryOptions options;
  options.tick_period = milliseconds(1);
  MetricsRegistry registry(clock, options);
  const std::int64_t start = registry.current_interval();
  clock.ms += 5000;
  for (int i = 0; i < 5000 && registry.current_interval() != start + 5; ++i) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  EXPECT_EQ(registry.current_interval(), start + 5);
}

TEST(MetricsRegistryOptionsTest, OutOfRangeOptionsAreClamped) {
  core::ManualClock clock(T0());
  RegistryOptions options;
  options.interval = core::Duration(0);
  options.slots = 3;
  MetricsRegistry registry(clock, options);
  EXPECT_EQ(registry.options().interval, core::Duration(1));
  EXPECT_EQ(registry.options().slots, 60);
}

}  // namespace
}  // namespace mlcanary::metrics

namespace mlcanary::metrics {
namespace {

// ---- Predictions and latency buckets for the ML checks (issue 14) ----

class PredictionWindowTest : public ::testing::Test {
 protected:
  PredictionWindowTest() : clock_(T0()), registry_(clock_, Options()) {}
  static RegistryOptions Options() {
    RegistryOptions o;
    o.interval = seconds(1);
    o.slots = 60;
    return o;
  }
  core::WindowMetrics Window(core::Timestamp start, core::Timestamp end) {
    auto snap = registry_.Snapshot("recs", start, end);
    EXPECT_TRUE(snap.has_value());
    return snap ? snap->at("canary") : core::WindowMetrics{};
  }
  core::ManualClock clock_;
  MetricsRegistry registry_;
};

TEST_F(PredictionWindowTest, FirstOutputOfEachRowIsCountedInItsBucket) {
  auto v = registry_.Variant("recs", "canary");
  // Two rows of three outputs: 0.25 and 0.75 are recorded, the rest not.
  const std::vector<float> two_rows = {0.25f, 9.f, 9.f, 0.75f, 9.f, 9.f};
  v->Record(200, milliseconds(1), milliseconds(1), {two_rows.data(), 2, 3});
  const std::vector<float> one = {0.25f};
  for (int i = 0; i < 3; ++i) v->Record(200, milliseconds(1), milliseconds(1), {one.data(), 1, 1});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  v->Record(200, milliseconds(1), milliseconds(1), {&nan, 1, 1});  // NaN: skipped
  v->Record(503, milliseconds(1), milliseconds(1));                // an error: no predictions
  clock_.Advance(seconds(1));
  const core::WindowMetrics w = Window(T0(), clock_.Now());
  EXPECT_EQ(w.invocations, 6);
  EXPECT_EQ(w.predictions, 5);
  EXPECT_EQ(w.outputs_per_row, 3);
  const std::vector<core::ValueCount> expected = {
      {static_cast<double>(prediction_layout::BucketIndex(0.25f)), 4},
      {static_cast<double>(prediction_layout::BucketIndex(0.75f)), 1}};
  EXPECT_EQ(w.prediction_buckets, expected);
}

// Predictions travel with their interval through folds, groups and the ring:
// a window sums exactly its intervals, and a new interval starts empty.
TEST_F(PredictionWindowTest, WindowsSumTheirIntervalsPredictions) {
  auto v = registry_.Variant("recs", "canary");
  const std::vector<float> values = {-3.5f, 0.0f, 1e-3f, 42.0f};
  for (int i = 0; i < 25; ++i) {
    for (int k = 0; k <= i % 4; ++k) {
      v->Record(200, milliseconds(1), milliseconds(1), {&values[k], 1, 1});
    }
    clock_.Advance(seconds(1));
    registry_.Tick();
  }
  const core::WindowMetrics all = Window(T0(), clock_.Now());
  // Intervals i hold values 0..i%4: value k is in every interval with i%4 >= k.
  std::int64_t expected_total = 0;
  std::vector<core::ValueCount> expected;
  for (int k = 0; k < 4; ++k) {
    std::int64_t n = 0;
    for (int i = 0; i < 25; ++i) n += (i % 4 >= k) ? 1 : 0;
    expected.push_back({static_cast<double>(prediction_layout::BucketIndex(values[k])), n});
    expected_total += n;
  }
  EXPECT_EQ(all.predictions, expected_total);
  EXPECT_EQ(all.prediction_buckets, expected);  // index order is value order
  const core::WindowMetrics last = Window(T0() + seconds(24), clock_.Now());
  EXPECT_EQ(last.invocations, 1);
  EXPECT_EQ(last.predictions, 1);  // interval 24: 24 % 4 == 0, one value
}

TEST_F(PredictionWindowTest, LatencyBucketsCarryTheHistogram) {
  auto v = registry_.Variant("recs", "canary");
  for (int i = 0; i < 30; ++i) v->Record(200, milliseconds(2), milliseconds(3));
  for (int i = 0; i < 10; ++i) v->Record(200, milliseconds(8), milliseconds(9));
  clock_.Advance(seconds(1));
  const core::WindowMetrics w = Window(T0(), clock_.Now());
  ASSERT_EQ(w.latency_buckets.size(), 2u);
  EXPECT_NEAR(w.latency_buckets[0].value, 2.0, 0.02);
  EXPECT_EQ(w.latency_buckets[0].count, 30);
  EXPECT_NEAR(w.latency_buckets[1].value, 8.0, 0.08);
  EXPECT_EQ(w.latency_buckets[1].count, 10);
}

}  // namespace
}  // namespace mlcanary::metrics
