// Tests of RegistryMetricsSource: the registry seen through the controller's
// core::MetricsSource port.
#include "metrics/registry_metrics_source.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

namespace mlcanary::metrics {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(RegistryMetricsSourceTest, ServesTheRegistryWindowsThroughThePort) {
  core::ManualClock clock(core::Timestamp(seconds(1'767'225'600)));
  const core::Timestamp start = clock.Now();
  MetricsRegistry registry(clock);
  registry.Variant("recs", "production")->Record(200, milliseconds(40), milliseconds(41));
  registry.Variant("recs", "canary")->Record(503, milliseconds(80), milliseconds(82));
  clock.Advance(seconds(60));

  std::unique_ptr<core::MetricsSource> source = std::make_unique<RegistryMetricsSource>(registry);
  auto snap = source->Snapshot("recs", start, clock.Now());
  ASSERT_TRUE(snap.has_value());
  ASSERT_EQ(snap->size(), 2u);
  EXPECT_EQ(snap->at("production").invocations, 1);
  EXPECT_NEAR(snap->at("production").p99_ms, 40, 0.4);
  EXPECT_EQ(snap->at("canary").errors_5xx, 1);
  EXPECT_NEAR(snap->at("canary").overhead_ms, 2, 1e-9);

  // The next check's window holds nothing new.
  auto next = source->Snapshot("recs", clock.Now(), clock.Now() + seconds(60));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->at("canary").invocations, 0);
}

TEST(RegistryMetricsSourceTest, PassesErrorsThrough) {
  core::ManualClock clock(core::Timestamp(seconds(1'767'225'600)));
  MetricsRegistry registry(clock);
  RegistryMetricsSource source(registry);
  auto snap = source.Snapshot("recs", clock.Now(), clock.Now() - seconds(1));
  ASSERT_FALSE(snap.has_value());
  EXPECT_EQ(snap.error().code(), core::ErrorCode::kValidation);
}

}  // namespace
}  // namespace mlcanary::metrics
