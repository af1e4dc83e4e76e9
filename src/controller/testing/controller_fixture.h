// The setting every controller test starts from: a manual clock on day one,
// the in-memory data plane with endpoint "recs" serving "production" alone, a
// store, scripted metrics, a notifier that keeps what it is told and a policy
// with a 2-minute bake; and the questions the tests ask of them (the weights on
// the data plane, the stored deployment and its events).
//
//   class MyTest : public controller::testing::ControllerFixture<> {};
//   TEST_F(MyTest, ...) { Controller c(ports()); c.StartDeployment(Request()); }
//
// `Store` is the in-memory store unless a test needs another (a full disk).
#ifndef MLCANARY_CONTROLLER_TESTING_CONTROLLER_FIXTURE_H_
#define MLCANARY_CONTROLLER_TESTING_CONTROLLER_FIXTURE_H_

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "controller/controller.h"
#include "core/clock.h"
#include "core/policy.h"
#include "core/testing/memory_deployment_store.h"
#include "core/testing/port_fakes.h"
#include "core/testing/virtual_traffic_control.h"
#include "core/types.h"

namespace mlcanary::controller::testing {

// 2026-01-01 00:00 UTC: where the tests' clocks start.
inline core::Timestamp DayOne() {
  return core::Timestamp(std::chrono::sys_days(std::chrono::year(2026) / 1 / 1));
}

// An endpoint serving "production" alone, at weight 1 on one instance.
inline core::Endpoint ProductionOnly(std::string name) {
  return {.name = std::move(name),
          .variants = {{.name = "production", .weight = 1.0, .instances = 1, .model = {}}}};
}

// Waits until `done` holds or `deadline` has passed (then the caller's
// expectations fail: a deadline, never a timing assertion).
inline void WaitUntil(const std::function<bool()>& done,
                      std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!done() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

template <typename Store = core::testing::MemoryDeploymentStore>
class ControllerFixture : public ::testing::Test {
 protected:
  ControllerFixture() : clock_(DayOne()) {
    traffic_.AddEndpoint(ProductionOnly("recs"));
    policy_.bake = std::chrono::minutes(2);
  }

  // The fixture's ports; the data plane may be a test's own (wrapping traffic_).
  Ports ports() { return ports(traffic_); }
  Ports ports(core::TrafficControl& traffic) {
    return {.traffic = traffic,
            .metrics = metrics_,
            .store = store_,
            .notifier = notifier_,
            .clock = clock_};
  }

  // A canary named "canary" on "recs" with the fixture's policy.
  StartRequest Request(std::string id = "d1") const {
    return {.id = std::move(id),
            .endpoint = "recs",
            .canary_variant = "canary",
            .model = {},
            .instances = 1,
            .policy = policy_,
            .actor = "test"};
  }

  // The weight of `variant` on "recs" as the data plane has it; -1 when the
  // variant (or the endpoint) is not there.
  double Weight(std::string_view variant) {
    auto e = traffic_.DescribeEndpoint("recs");
    const core::Variant* v = e ? e->FindVariant(variant) : nullptr;
    return v ? v->weight : -1;
  }
  double CanaryWeight() { return Weight("canary"); }
  double ProductionWeight() { return Weight("production"); }

  // The deployment and its events as stored.
  core::Deployment Stored(std::string_view id = "d1") {
    auto d = store_.Get(id);
    EXPECT_TRUE(d) << d.error().ToString();
    return d ? *d : core::Deployment{};
  }
  std::vector<core::DeploymentEvent> Events(std::string_view id = "d1") {
    auto events = store_.ListEvents(id, 0);
    EXPECT_TRUE(events) << events.error().ToString();
    return events ? *events : std::vector<core::DeploymentEvent>{};
  }
  std::vector<core::DeploymentEvent> EventsOf(core::EventKind kind, std::string_view id = "d1") {
    std::vector<core::DeploymentEvent> out;
    for (auto& e : Events(id)) {
      if (e.kind == kind) out.push_back(std::move(e));
    }
    return out;
  }

  core::ManualClock clock_;
  core::testing::VirtualTrafficControl traffic_;
  core::testing::ScriptedMetrics metrics_;
  Store store_;
  core::testing::RecordingNotifier notifier_;
  core::Policy policy_;
};

}  // namespace mlcanary::controller::testing

#endif  // MLCANARY_CONTROLLER_TESTING_CONTROLLER_FIXTURE_H_
