// The TrafficControl contract (core/testing/traffic_control_contract.h) on
// SageMakerTrafficControl, against moto's server (test/aws/moto_harness.py),
// which checks every request's signature and shape: after each test, no violation.
#include <gtest/gtest.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <memory>
#include <string>

#include "aws/aws_client.h"
#include "core/testing/traffic_control_contract.h"
#include "moto_fixture.h"  // test/aws
#include "sagemaker/sagemaker_traffic_control.h"

namespace mlcanary::sagemaker {
namespace {

using core::testing::TrafficControlContractTest;
using core::testing::TrafficControlKind;
using mlcanary::testing::CallOk;
using mlcanary::testing::GetSharedMoto;
using mlcanary::testing::SharedMoto;

namespace json = boost::json;

std::string ModelName(const std::string& endpoint, const std::string& variant, int model) {
  return endpoint + "-m-" + variant + "-" + std::to_string(model);
}

TrafficControlKind SageMakerKind() {
  TrafficControlKind kind;
  kind.name = "SageMaker";
  // An endpoint config and an endpoint serving the variants (their models
  // exist: `variant` created them).
  kind.make = [](const core::Endpoint& endpoint) -> std::unique_ptr<core::TrafficControl> {
    SharedMoto* moto = GetSharedMoto();
    if (moto == nullptr || moto->sagemaker == nullptr || moto->autoscaling == nullptr) {
      return nullptr;
    }
    if (!moto->harness->Reset()) return nullptr;
    json::array variants;
    for (const core::Variant& v : endpoint.variants) {
      variants.push_back(json::object{{"VariantName", v.name},
                                      {"ModelName", v.model.name},
                                      {"InstanceType", "ml.m5.large"},
                                      {"InitialInstanceCount", v.instances},
                                      {"InitialVariantWeight", v.weight}});
    }
    const std::string config = endpoint.name + "-cfg-1";
    if (!CallOk(*moto->sagemaker, "CreateEndpointConfig",
                {{"EndpointConfigName", config}, {"ProductionVariants", std::move(variants)}}) ||
        !CallOk(*moto->sagemaker, "CreateEndpoint",
                {{"EndpointName", endpoint.name}, {"EndpointConfigName", config}})) {
      return nullptr;
    }
    SageMakerOptions o;
    o.sleep = [](core::Duration) {};  // moto is InService at once
    o.log = [](std::string_view) {};
    auto traffic = SageMakerTrafficControl::Create(*moto->sagemaker, *moto->autoscaling, o);
    EXPECT_TRUE(traffic) << traffic.error().ToString();
    return traffic ? std::move(*traffic) : nullptr;
  };
  kind.variant = [](const std::string& endpoint, const std::string& name, int model) {
    core::Variant v;
    v.name = name;
    v.instances = 1;
    v.model.kind = core::ModelKind::kSagemaker;
    v.model.name = ModelName(endpoint, name, model);
    if (SharedMoto* moto = GetSharedMoto(); moto != nullptr && moto->sagemaker != nullptr) {
      CallOk(*moto->sagemaker, "CreateModel",
             {{"ModelName", v.model.name},
              {"ExecutionRoleArn", "arn:aws:iam::123456789012:role/mlcanary-sagemaker"},
              {"PrimaryContainer",
               json::object{{"Image", "123456789012.dkr.ecr.us-east-1.amazonaws.com/recs:" +
                                          v.model.name}}}});
    }
    return v;
  };
  kind.after_each = [] {
    SharedMoto* moto = GetSharedMoto();
    if (moto == nullptr) return;
    auto violations = moto->harness->Violations();
    ASSERT_TRUE(violations) << violations.error().ToString();
    EXPECT_EQ(*violations, "[]") << "requests not signed right or not valid per botocore";
  };
  // Finishing an earlier call's job (see SageMakerTrafficControl::CreateVariant).
  kind.create_again_succeeds = true;
  // The adapter sends the whole set in one UpdateEndpointWeightsAndCapacities
  // call; what readers see meanwhile is SageMaker's doing, and moto applies a
  // call variant by variant: the clause would test moto, not the adapter.
  kind.concurrent_rounds = 0;
  return kind;
}

INSTANTIATE_TEST_SUITE_P(SageMaker, TrafficControlContractTest, ::testing::Values(SageMakerKind()),
                         ::testing::PrintToStringParamName());

}  // namespace
}  // namespace mlcanary::sagemaker
