// The TrafficControl contract (core/testing/traffic_control_contract.h) on the
// gateway's Router, with fake model backends, and on RouterMirror (in front of
// the in-memory data plane, copying into a Router).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "core/testing/port_fakes.h"
#include "core/testing/traffic_control_contract.h"
#include "core/testing/virtual_traffic_control.h"
#include "gateway/router.h"
#include "gateway/router_mirror.h"
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

// The source and the router copy a RouterMirror needs, with the mirror (a base
// of MirrorUnderTest, so built before the forwarding base that names it).
struct MirrorParts {
  core::testing::VirtualTrafficControl source;
  Router router{
      RouterOptions{},
      [](const core::ModelSpec& spec) -> core::Result<std::unique_ptr<models::ModelBackend>> {
        return std::make_unique<models::testing::FakeBackend>(spec.path);
      },
      nullptr};
  RouterMirror mirror{
      source, router,
      RouterMirrorOptions{.make_backend = [](const std::string&, const core::Variant& v) {
        return std::make_shared<models::testing::FakeBackend>(v.model.path);
      }}};
};

class MirrorUnderTest final : private MirrorParts, public core::testing::ForwardingTrafficControl {
 public:
  MirrorUnderTest() : ForwardingTrafficControl(mirror) {}
  MirrorParts& parts() { return *this; }
};

// After every clause, the router's copy has the source's variants and weights.
void ExpectTheCopyFollows(MirrorParts& parts, const std::string& endpoint) {
  auto source = parts.source.DescribeEndpoint(endpoint);
  auto copy = parts.router.DescribeEndpoint(endpoint);
  ASSERT_TRUE(source) << source.error().ToString();
  ASSERT_TRUE(copy) << copy.error().ToString();
  ASSERT_EQ(copy->variants.size(), source->variants.size());
  for (const core::Variant& v : source->variants) {
    const core::Variant* c = copy->FindVariant(v.name);
    ASSERT_NE(c, nullptr) << v.name;
    EXPECT_TRUE(core::SameWeight(c->weight, v.weight)) << v.name;
  }
}

TrafficControlKind RouterMirrorKind() {
  TrafficControlKind kind = RouterKind();
  kind.name = "RouterMirror";
  auto last = std::make_shared<std::pair<MirrorUnderTest*, std::string>>();
  kind.make = [last](const core::Endpoint& endpoint) -> std::unique_ptr<core::TrafficControl> {
    auto traffic = std::make_unique<MirrorUnderTest>();
    traffic->parts().source.AddEndpoint(endpoint);
    if (auto s = traffic->parts().mirror.Follow(endpoint.name); !s) {
      ADD_FAILURE() << s.error().ToString();
      return nullptr;
    }
    *last = {traffic.get(), endpoint.name};
    return traffic;
  };
  kind.after_each = [last] {
    if (last->first != nullptr) ExpectTheCopyFollows(last->first->parts(), last->second);
    *last = {};
  };
  return kind;
}

INSTANTIATE_TEST_SUITE_P(Gateway, TrafficControlContractTest,
                         ::testing::Values(RouterKind(), RouterMirrorKind()),
                         ::testing::PrintToStringParamName());

}  // namespace
}  // namespace mlcanary::gateway
