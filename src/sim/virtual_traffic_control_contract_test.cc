// The TrafficControl contract (core/testing/traffic_control_contract.h) on the
// simulator's VirtualTrafficControl.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/testing/traffic_control_contract.h"
#include "core/testing/virtual_traffic_control.h"

namespace mlcanary::sim {
namespace {

using core::testing::TrafficControlContractTest;
using core::testing::TrafficControlKind;

TrafficControlKind VirtualKind() {
  TrafficControlKind kind;
  kind.name = "VirtualTrafficControl";
  kind.make = [](const core::Endpoint& endpoint) -> std::unique_ptr<core::TrafficControl> {
    auto traffic = std::make_unique<core::testing::VirtualTrafficControl>();
    traffic->AddEndpoint(endpoint);
    return traffic;
  };
  kind.variant = [](const std::string&, const std::string& name, int model) {
    core::Variant v;
    v.name = name;
    v.model.name = name + "-" + std::to_string(model);
    return v;
  };
  return kind;
}

INSTANTIATE_TEST_SUITE_P(Sim, TrafficControlContractTest, ::testing::Values(VirtualKind()),
                         ::testing::PrintToStringParamName());

}  // namespace
}  // namespace mlcanary::sim
