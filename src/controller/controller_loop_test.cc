#include "controller/controller_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "sim/virtual_traffic_control.h"
#include "store/memory_deployment_store.h"

namespace mlcanary::controller {
namespace {

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
  sim::VirtualTrafficControl traffic;
  NoMetrics metrics;
  store::MemoryDeploymentStore store;
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

}  // namespace
}  // namespace mlcanary::controller
