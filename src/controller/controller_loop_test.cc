#include "controller/controller_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>

#include "controller/testing/controller_fixture.h"
#include "core/testing/memory_deployment_store.h"
#include "core/testing/port_fakes.h"
#include "core/testing/virtual_traffic_control.h"

namespace mlcanary::controller {
namespace {

using core::DeploymentState;

using core::testing::NoMetrics;
using core::testing::NullNotifier;
using testing::WaitUntil;

TEST(ControllerLoopTest, TicksUntilStoppedAndWakesEarly) {
  core::ManualClock clock{core::Timestamp{}};
  core::testing::VirtualTrafficControl traffic;
  NoMetrics metrics;
  core::testing::MemoryDeploymentStore store;
  NullNotifier notifier;
  Controller controller({.traffic = traffic,
                         .metrics = metrics,
                         .store = store,
                         .notifier = notifier,
                         .clock = clock});
  std::atomic<int> ticks{0};
  ControllerLoop loop(controller, std::chrono::hours(1), [&](const auto& outcomes) {
    EXPECT_TRUE(outcomes.has_value());
    ++ticks;
  });
  loop.Start();
  WaitUntil([&] { return ticks.load() >= 1; });
  EXPECT_EQ(ticks.load(), 1);  // the first tick runs at once, the next after an hour
  loop.Wake();
  WaitUntil([&] { return ticks.load() >= 2; });
  EXPECT_EQ(ticks.load(), 2);
  loop.Stop();  // does not wait for the hour (else the test runs into its timeout)
  loop.Stop();  // idempotent
}

// Creating a variant on endpoint "slow" blocks until released (a SageMaker
// UpdateEndpoint that takes minutes); the others pass straight through.
class SlowEndpointTraffic final : public core::testing::ForwardingTrafficControl {
 public:
  using ForwardingTrafficControl::ForwardingTrafficControl;
  std::promise<void> release;
  std::atomic<bool> slow_started{false};

  core::Status CreateVariant(std::string_view e, const core::Variant& v) override {
    if (e == "slow") {
      slow_started = true;
      released_.wait();
    }
    return ForwardingTrafficControl::CreateVariant(e, v);
  }

 private:
  std::shared_future<void> released_ = release.get_future().share();
};

TEST(ControllerLoopTest, AWorkerPerDeploymentKeepsASlowEndpointFromHoldingUpTheOthers) {
  core::ManualClock clock{core::Timestamp{}};
  core::testing::VirtualTrafficControl virtual_traffic;
  for (const char* name : {"slow", "fast"}) {
    virtual_traffic.AddEndpoint(testing::ProductionOnly(name));
  }
  SlowEndpointTraffic traffic(virtual_traffic);
  NoMetrics metrics;
  core::testing::MemoryDeploymentStore store;
  NullNotifier notifier;
  Controller controller({.traffic = traffic,
                         .metrics = metrics,
                         .store = store,
                         .notifier = notifier,
                         .clock = clock,
                         .start_in_background = true});
  ASSERT_TRUE(controller.StartDeployment({.id = "s", .endpoint = "slow"}));
  std::atomic<int> observed{0};
  ControllerLoop loop(controller, std::chrono::milliseconds(10), [&](const auto&) { ++observed; },
                      {.worker_per_deployment = true});
  loop.Start();
  WaitUntil([&] { return traffic.slow_started.load(); });
  ASSERT_TRUE(traffic.slow_started);
  // While "slow" is still being readied, a deployment on "fast" goes ahead.
  ASSERT_TRUE(controller.StartDeployment({.id = "f", .endpoint = "fast"}));
  WaitUntil([&] { return store.Get("f")->state == DeploymentState::kInProgress; });
  EXPECT_EQ(store.Get("f")->state, DeploymentState::kInProgress);
  EXPECT_EQ(store.Get("s")->state, DeploymentState::kPending);
  traffic.release.set_value();
  WaitUntil([&] { return store.Get("s")->state == DeploymentState::kInProgress; });
  EXPECT_EQ(store.Get("s")->state, DeploymentState::kInProgress);
  loop.Stop();
  EXPECT_GE(observed.load(), 2);
}

}  // namespace
}  // namespace mlcanary::controller
