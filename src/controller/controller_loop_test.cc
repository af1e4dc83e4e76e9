#include "controller/controller_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>

#include "core/testing/memory_deployment_store.h"
#include "core/testing/virtual_traffic_control.h"

namespace mlcanary::controller {
namespace {

using core::DeploymentState;

class NoMetrics final : public core::MetricsSource {
 public:
  core::Result<std::map<std::string, core::WindowMetrics>> Snapshot(std::string_view,
                                                                    core::Timestamp,
                                                                    core::Timestamp) override {
    return std::map<std::string, core::WindowMetrics>{};
  }
};

class NoNotifier final : public core::Notifier {
 public:
  void Notify(const core::Deployment&, const core::DeploymentEvent&) override {}
};

TEST(ControllerLoopTest, TicksUntilStoppedAndWakesEarly) {
  core::ManualClock clock{core::Timestamp{}};
  core::testing::VirtualTrafficControl traffic;
  NoMetrics metrics;
  core::testing::MemoryDeploymentStore store;
  NoNotifier notifier;
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
  for (int i = 0; i < 200 && ticks.load() < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(ticks.load(), 1);  // the first tick runs at once, the next after an hour
  loop.Wake();
  for (int i = 0; i < 200 && ticks.load() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(ticks.load(), 2);
  const auto before = std::chrono::steady_clock::now();
  loop.Stop();  // must not wait for the hour
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(5));
  loop.Stop();  // idempotent
}

// Creating a variant on endpoint "slow" blocks until released (a SageMaker
// UpdateEndpoint that takes minutes); the others pass straight through.
class SlowEndpointTraffic final : public core::TrafficControl {
 public:
  explicit SlowEndpointTraffic(core::TrafficControl& inner) : inner_(inner) {}
  std::promise<void> release;
  std::atomic<bool> slow_started{false};

  core::Result<core::Endpoint> DescribeEndpoint(std::string_view e) override {
    return inner_.DescribeEndpoint(e);
  }
  core::Status CreateVariant(std::string_view e, const core::Variant& v) override {
    if (e == "slow") {
      slow_started = true;
      released_.wait();
    }
    return inner_.CreateVariant(e, v);
  }
  core::Status RemoveVariant(std::string_view e, std::string_view v) override {
    return inner_.RemoveVariant(e, v);
  }
  core::Status SetWeights(std::string_view e, const std::vector<core::VariantWeight>& w) override {
    return inner_.SetWeights(e, w);
  }

 private:
  core::TrafficControl& inner_;
  std::shared_future<void> released_ = release.get_future().share();
};

TEST(ControllerLoopTest, AWorkerPerDeploymentKeepsASlowEndpointFromHoldingUpTheOthers) {
  core::ManualClock clock{core::Timestamp{}};
  core::testing::VirtualTrafficControl virtual_traffic;
  for (const char* name : {"slow", "fast"}) {
    core::Endpoint e;
    e.name = name;
    e.variants.push_back({.name = "production", .weight = 1.0, .instances = 1, .model = {}});
    virtual_traffic.AddEndpoint(e);
  }
  SlowEndpointTraffic traffic(virtual_traffic);
  NoMetrics metrics;
  core::testing::MemoryDeploymentStore store;
  NoNotifier notifier;
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
  for (int i = 0; i < 400 && !traffic.slow_started; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(traffic.slow_started);
  // While "slow" is still being readied, a deployment on "fast" goes ahead.
  ASSERT_TRUE(controller.StartDeployment({.id = "f", .endpoint = "fast"}));
  for (int i = 0; i < 400 && store.Get("f")->state != DeploymentState::kInProgress; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(store.Get("f")->state, DeploymentState::kInProgress);
  EXPECT_EQ(store.Get("s")->state, DeploymentState::kPending);
  traffic.release.set_value();
  for (int i = 0; i < 400 && store.Get("s")->state != DeploymentState::kInProgress; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(store.Get("s")->state, DeploymentState::kInProgress);
  loop.Stop();
  EXPECT_GE(observed.load(), 2);
}

}  // namespace
}  // namespace mlcanary::controller
