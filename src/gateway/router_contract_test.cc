// The TrafficControl contract (core/testing/traffic_control_contract.h) on the
// gateway's Router, with fake model backends.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/testing/traffic_control_contract.h"
#include "gateway/router.h"
#include "models/testing/fake_backend.h"

namespace mlcanary::gateway {
namespace {

using core::testing::TrafficControlContractTest;
using core::testing::TrafficControlKind;

TrafficControlKind RouterKind() {
  TrafficControlKind kind;
  kind.name = "Router";
  kind.make = [](const core::Endpoint& endpoint) -> std::unique_ptr<core::TrafficControl> {
    auto router = std::make_unique<Router>(
        RouterOptions{},
        [](const core::ModelSpec& spec) -> core::Result<std::unique_ptr<models::ModelBackend>> {
          return std::make_unique<models::testing::FakeBackend>(spec.path);
        },
        nullptr);
    auto s = router->AddEndpoint(endpoint);
    if (!s) {
      ADD_FAILURE() << s.error().ToString();
      return nullptr;
    }
    return router;
  };
  kind.variant = [](const std::string&, const std::string& name, int model) {
    core::Variant v;
    v.name = name;
    v.model.kind = core::ModelKind::kXgboost;
    v.model.path = name + "-" + std::to_string(model) + ".json";
    return v;
  };
  return kind;
}

INSTANTIATE_TEST_SUITE_P(Gateway, TrafficControlContractTest, ::testing::Values(RouterKind()),
                         ::testing::PrintToStringParamName());

}  // namespace
}  // namespace mlcanary::gateway
