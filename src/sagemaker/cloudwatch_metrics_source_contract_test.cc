// The MetricsSource contract (core/testing/metrics_source_contract.h) on
// CloudWatchMetricsSource, against moto's server (test/aws/moto_harness.py):
// the endpoint is a SageMaker endpoint in moto, its variants listed as `serve`
// lists them (VariantsFrom a SageMakerTrafficControl), requests are put as
// SageMaker publishes them (AWS/SageMaker Invocations, Invocation4XX/5XXErrors,
// ModelLatency in microseconds), one virtual minute per window; after each
// test, every request was signed right and well formed.
#include <gtest/gtest.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "aws/aws_client.h"
#include "core/testing/metrics_source_contract.h"
#include "moto_fixture.h"  // test/aws
#include "sagemaker/cloudwatch_metrics_source.h"
#include "sagemaker/sagemaker_traffic_control.h"

namespace mlcanary::sagemaker {
namespace {

using core::testing::MetricsSourceContractTest;
using core::testing::MetricsSourceDriver;
using core::testing::MetricsSourceKind;
using core::testing::Requests;
using mlcanary::testing::CallOk;
using mlcanary::testing::GetSharedMoto;
using mlcanary::testing::SharedMoto;

namespace json = boost::json;

std::int64_t EpochSeconds(core::Timestamp t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

class CloudWatchDriver final : public MetricsSourceDriver {
 public:
  CloudWatchDriver(SharedMoto& moto, std::string endpoint,
                   std::unique_ptr<SageMakerTrafficControl> traffic)
      : moto_(moto),
        endpoint_(std::move(endpoint)),
        traffic_(std::move(traffic)),
        source_(*moto_.cloudwatch, VariantsFrom(*traffic_)) {}

  core::MetricsSource& source() override { return source_; }

  // One datapoint of each metric SageMaker publishes per minute, in the middle
  // of the current virtual minute.
  void Record(const std::string& variant, const Requests& requests) override {
    const auto count = static_cast<double>(requests.count);
    auto datum = [&](std::string_view metric, json::array values, json::array counts,
                     std::string_view unit) {
      json::object d{
          {"MetricName", metric},
          {"Dimensions", json::array{json::object{{"Name", "EndpointName"}, {"Value", endpoint_}},
                                     json::object{{"Name", "VariantName"}, {"Value", variant}}}},
          {"Timestamp", EpochSeconds(minute_ + std::chrono::seconds(30))},
          {"Values", std::move(values)},
          {"Unit", unit}};
      if (!counts.empty()) d["Counts"] = std::move(counts);
      return d;
    };
    const bool is_4xx = requests.status >= 400 && requests.status < 500;
    const bool is_5xx = requests.status >= 500;
    json::array data{
        datum("Invocations", {count}, {}, "None"),
        datum("Invocation4XXErrors", {is_4xx ? count : 0.0}, {}, "None"),
        datum("Invocation5XXErrors", {is_5xx ? count : 0.0}, {}, "None"),
        datum("ModelLatency", {requests.latency_ms * 1000.0}, {count}, "Microseconds"),
    };
    CallOk(*moto_.cloudwatch, "PutMetricData",
           {{"Namespace", "AWS/SageMaker"}, {"MetricData", std::move(data)}});
  }

  // CloudWatch's resolution: whole minutes (AlignWindow).
  core::Timestamp Boundary() override {
    minute_ += std::chrono::minutes(1);
    return minute_;
  }

  bool Break() override {
    // Every GetMetricData answered 500, past the client's retries.
    return moto_.harness->InjectFault("GetMetricData", 50, 500, "InternalFailure").has_value();
  }

  void AfterEach() override {
    auto violations = moto_.harness->Violations();
    ASSERT_TRUE(violations) << violations.error().ToString();
    EXPECT_EQ(*violations, "[]") << "requests not signed right or not valid per botocore";
  }

 private:
  SharedMoto& moto_;
  std::string endpoint_;
  std::unique_ptr<SageMakerTrafficControl> traffic_;
  CloudWatchMetricsSource source_;
  // Recent minutes: CloudWatch refuses datapoints older than two weeks.
  core::Timestamp minute_ = std::chrono::floor<std::chrono::minutes>(
      std::chrono::time_point_cast<core::Duration>(std::chrono::system_clock::now()) -
      std::chrono::hours(6));
};

// An endpoint config and an InService endpoint serving `variants` (equal
// weights), each with a model of its own.
std::unique_ptr<MetricsSourceDriver> MakeCloudWatchDriver(
    const std::string& endpoint, const std::vector<std::string>& variants) {
  SharedMoto* moto = GetSharedMoto();
  if (moto == nullptr || moto->sagemaker == nullptr || moto->autoscaling == nullptr ||
      moto->cloudwatch == nullptr || !moto->harness->Reset()) {
    return nullptr;
  }
  json::array production_variants;
  for (const std::string& v : variants) {
    const std::string model = endpoint + "-m-" + v;
    if (!CallOk(*moto->sagemaker, "CreateModel",
                {{"ModelName", model},
                 {"ExecutionRoleArn", "arn:aws:iam::123456789012:role/mlcanary-sagemaker"},
                 {"PrimaryContainer",
                  json::object{
                      {"Image", "123456789012.dkr.ecr.us-east-1.amazonaws.com/recs:" + model}}}})) {
      return nullptr;
    }
    production_variants.push_back(
        json::object{{"VariantName", v},
                     {"ModelName", model},
                     {"InstanceType", "ml.m5.large"},
                     {"InitialInstanceCount", 1},
                     {"InitialVariantWeight", 1.0 / static_cast<double>(variants.size())}});
  }
  const std::string config = endpoint + "-cfg-1";
  if (!CallOk(*moto->sagemaker, "CreateEndpointConfig",
              {{"EndpointConfigName", config},
               {"ProductionVariants", std::move(production_variants)}}) ||
      !CallOk(*moto->sagemaker, "CreateEndpoint",
              {{"EndpointName", endpoint}, {"EndpointConfigName", config}})) {
    return nullptr;
  }
  SageMakerOptions o;
  o.sleep = [](core::Duration) {};  // moto is InService at once
  o.log = [](std::string_view) {};
  auto traffic = SageMakerTrafficControl::Create(*moto->sagemaker, *moto->autoscaling, o);
  EXPECT_TRUE(traffic) << traffic.error().ToString();
  if (!traffic) return nullptr;
  return std::make_unique<CloudWatchDriver>(*moto, endpoint, std::move(*traffic));
}

MetricsSourceKind CloudWatchKind() {
  MetricsSourceKind kind;
  kind.name = "CloudWatch";
  kind.make = MakeCloudWatchDriver;
  // Counts are CloudWatch's sums and the percentiles its own (moto: the
  // nearest rank of the datapoints): exact. Windows are whole minutes.
  // The variants come from the endpoint (DescribeEndpoint): an endpoint
  // SageMaker does not know is kNotFound.
  kind.unknown_endpoint = core::testing::UnknownEndpoint::kNotFound;
  return kind;
}

INSTANTIATE_TEST_SUITE_P(CloudWatch, MetricsSourceContractTest, ::testing::Values(CloudWatchKind()),
                         ::testing::PrintToStringParamName());

}  // namespace
}  // namespace mlcanary::sagemaker
