// The SageMaker-mode adapters against moto's server (test/aws/moto_harness.py),
// which checks every request's SigV4 signature and validates it against
// botocore's model for its operation: after each test, no violation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "aws/aws_client.h"
#include "codec/domain_json.h"
#include "core/clock.h"
#include "moto_fixture.h"  // test/aws
#include "sagemaker/autoscaling.h"
#include "sagemaker/cloudwatch_metrics_source.h"
#include "sagemaker/sagemaker_traffic_control.h"
#include "sagemaker/sns_notifier.h"

namespace mlcanary::sagemaker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MotoHarness;
using ::testing::StartsWith;

namespace json = boost::json;

const core::Timestamp kNow =
    core::Timestamp(std::chrono::seconds(1795863600));  // 2026-11-28T11:00Z

// --- Pure functions -----------------------------------------------------------

TEST(ConfigNameTest, EndpointTimeAndFourHexDigits) {
  EXPECT_EQ(SageMakerTrafficControl::ConfigName("recs", kNow + std::chrono::seconds(7), 0xabcd1234),
            "recs-20261128110007-1234");
}

TEST(ConfigNameTest, LongEndpointIsCutToSixtyThreeCharacters) {
  const std::string endpoint(63, 'e');
  const std::string name = SageMakerTrafficControl::ConfigName(endpoint, kNow, 0x1);
  EXPECT_EQ(name.size(), 63u);
  EXPECT_THAT(name, StartsWith(std::string(43, 'e') + "-20261128110000-0001"));
  EXPECT_TRUE(core::IsSageMakerName(name));
}

TEST(AlignWindowTest, FloorsStartCeilsEndAndCoversTheWholeWindow) {
  auto w = AlignWindow(kNow + std::chrono::seconds(20), kNow + std::chrono::seconds(150));
  ASSERT_TRUE(w) << w.error().ToString();
  EXPECT_EQ(w->start, kNow);
  EXPECT_EQ(w->end, kNow + std::chrono::minutes(3));
  EXPECT_EQ(w->period_seconds, 180);
}

TEST(AlignWindowTest, EmptyWindowIsRefused) {
  auto w = AlignWindow(kNow, kNow);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code(), core::ErrorCode::kValidation);
}

TEST(SnsMessageTest, TransitionSubjectAttributesAndBody) {
  core::Deployment d;
  d.id = "dep-1";
  d.endpoint = "recs";
  d.production_variant = "prod";
  d.canary_variant = "canary";
  core::DeploymentEvent e;
  e.deployment_id = "dep-1";
  e.kind = core::EventKind::kTransition;
  e.from_state = core::DeploymentState::kInProgress;
  e.to_state = core::DeploymentState::kRolledBack;
  const SnsMessage m = BuildSnsMessage(d, e);
  EXPECT_EQ(m.subject, "mlcanary recs: IN_PROGRESS -> ROLLED_BACK");
  EXPECT_THAT(m.attributes,
              ElementsAre(std::pair<std::string, std::string>("endpoint", "recs"),
                          std::pair<std::string, std::string>("state", "ROLLED_BACK"),
                          std::pair<std::string, std::string>("event", "transition"),
                          std::pair<std::string, std::string>("deployment_id", "dep-1")));
  // The message is the notification codec writes, to the byte (the webhooks' body).
  EXPECT_EQ(m.message, codec::NotificationJson(d, e));
  const json::value body = json::parse(m.message);
  EXPECT_EQ(body.at("deployment").at("id").as_string(), "dep-1");
  EXPECT_EQ(body.at("event").at("to_state").as_string(), "ROLLED_BACK");
}

TEST(SnsMessageTest, SubjectStaysWithinOneHundredPrintableCharacters) {
  core::Deployment d;
  d.id = "dep-1";
  d.endpoint = std::string(120, 'x');
  core::DeploymentEvent e;
  e.kind = core::EventKind::kWeightChange;
  e.weight_before = 0.1;
  e.weight_after = 0.2;
  const SnsMessage m = BuildSnsMessage(d, e);
  EXPECT_EQ(m.subject.size(), 100u);
  d.endpoint = "recs";
  EXPECT_EQ(BuildSnsMessage(d, e).subject, "mlcanary recs: canary 10% -> 20%");
}

TEST(AutoScalingOptionsTest, RefusesCapacitiesSageMakerRejects) {
  AutoScalingOptions o;
  o.min_capacity = 0;
  EXPECT_FALSE(ValidateAutoScalingOptions(o));
  o.min_capacity = 3;
  o.max_capacity = 2;
  EXPECT_FALSE(ValidateAutoScalingOptions(o));
  o.max_capacity = 3;
  EXPECT_TRUE(ValidateAutoScalingOptions(o));
}

// --- Against the moto harness ----------------------------------------------------

class MotoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = MotoHarness::Start();
    ASSERT_TRUE(started) << started.error().ToString();
    harness_ = std::move(*started).release();
  }
  static void TearDownTestSuite() {
    delete harness_;
    harness_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(harness_, nullptr);
    ASSERT_TRUE(harness_->Reset());
    sagemaker_ = Client(aws::SageMakerService());
    autoscaling_ = Client(aws::AutoScalingService());
    cloudwatch_ = Client(aws::CloudWatchService());
    sns_ = Client(aws::SnsService());
  }

  void TearDown() override {
    if (harness_ == nullptr) return;
    auto violations = harness_->Violations();
    ASSERT_TRUE(violations) << violations.error().ToString();
    EXPECT_EQ(*violations, "[]") << "requests not signed right or not valid per botocore";
  }

  std::string M(std::string_view variant) const { return ep_ + "-m-" + std::string(variant); }
  std::string ResourceId(std::string_view variant) const {
    return "endpoint/" + ep_ + "/variant/" + std::string(variant);
  }

  static std::unique_ptr<aws::AwsClient> Client(const aws::ServiceInfo& service) {
    return mlcanary::testing::MotoClient(*harness_, service);
  }

  json::object Call(aws::AwsClient& client, std::string_view op, const json::object& request) {
    auto r = client.CallJson(op, request);
    EXPECT_TRUE(r) << op << ": " << r.error().ToString();
    return r && r->is_object() ? r->get_object() : json::object{};
  }

  // An endpoint serving `variants` (name, weight, instances) from models m-<name>.
  void SeedEndpoint(std::string_view endpoint,
                    const std::vector<std::tuple<std::string, double, int>>& variants,
                    std::string_view config = "") {
    json::array pvs;
    for (const auto& [name, weight, instances] : variants) {
      SeedModel(M(name));
      pvs.push_back(json::object{{"VariantName", name},
                                 {"ModelName", M(name)},
                                 {"InstanceType", "ml.m5.large"},
                                 {"InitialInstanceCount", instances},
                                 {"InitialVariantWeight", weight}});
    }
    const std::string config_name =
        config.empty() ? std::string(endpoint) + "-cfg-1" : std::string(config);
    Call(*sagemaker_, "CreateEndpointConfig",
         {{"EndpointConfigName", config_name}, {"ProductionVariants", pvs}});
    Call(*sagemaker_, "CreateEndpoint",
         {{"EndpointName", endpoint}, {"EndpointConfigName", config_name}});
  }

  void SeedModel(const std::string& model) {
    Call(*sagemaker_, "CreateModel",
         {{"ModelName", model},
          {"ExecutionRoleArn", "arn:aws:iam::123456789012:role/mlcanary-sagemaker"},
          {"PrimaryContainer",
           json::object{{"Image", "123456789012.dkr.ecr.us-east-1.amazonaws.com/recs:" + model}}}});
  }

  std::unique_ptr<SageMakerTrafficControl> Traffic(SageMakerOptions o = {}) {
    o.clock = &clock_;
    o.sleep = [this](core::Duration d) { sleeps_.push_back(d); };
    o.random_bits = [this] { return ++bits_; };
    o.log = [this](std::string_view line) { log_.emplace_back(line); };
    auto t = SageMakerTrafficControl::Create(*sagemaker_, *autoscaling_, o);
    EXPECT_TRUE(t) << t.error().ToString();
    return t ? std::move(*t) : nullptr;
  }

  std::string ConfigOf(std::string_view endpoint) {
    const json::object described =
        Call(*sagemaker_, "DescribeEndpoint", {{"EndpointName", endpoint}});
    const json::value* name = described.if_contains("EndpointConfigName");
    return name != nullptr && name->is_string() ? std::string(name->get_string()) : "";
  }

  json::array ScalableTargets(std::string_view resource_id) {
    json::object r = Call(*autoscaling_, "DescribeScalableTargets",
                          {{"ServiceNamespace", "sagemaker"},
                           {"ResourceIds", json::array{resource_id}},
                           {"ScalableDimension", "sagemaker:variant:DesiredInstanceCount"}});
    return r.contains("ScalableTargets") ? r.at("ScalableTargets").as_array() : json::array{};
  }

  // A scalable target on `variant` with a target-tracking policy `policy_name`, as a user
  // would set up their own autoscaling.
  void UserScaling(std::string_view variant, std::string_view policy_name) {
    const json::object target{{"ServiceNamespace", "sagemaker"},
                              {"ResourceId", ResourceId(variant)},
                              {"ScalableDimension", "sagemaker:variant:DesiredInstanceCount"}};
    json::object register_target = target;
    register_target["MinCapacity"] = 1;
    register_target["MaxCapacity"] = 4;
    Call(*autoscaling_, "RegisterScalableTarget", register_target);
    json::object policy = target;
    policy["PolicyName"] = policy_name;
    policy["PolicyType"] = "TargetTrackingScaling";
    policy["TargetTrackingScalingPolicyConfiguration"] = json::object{
        {"TargetValue", 70.0},
        {"PredefinedMetricSpecification",
         json::object{{"PredefinedMetricType", "SageMakerVariantInvocationsPerInstance"}}}};
    Call(*autoscaling_, "PutScalingPolicy", policy);
  }

  // How many requests of `operation` reached the harness since its last Reset().
  int RequestCount(std::string_view operation) {
    auto requests = harness_->Requests();
    EXPECT_TRUE(requests) << requests.error().ToString();
    if (!requests) return -1;
    const json::value parsed = json::parse(*requests);
    int n = 0;
    for (const json::value& r : parsed.as_array()) {
      const json::value* op = r.as_object().if_contains("operation");
      n += op != nullptr && op->is_string() && op->get_string() == operation ? 1 : 0;
    }
    return n;
  }

  bool ConfigExists(const std::string& name) {
    auto r = sagemaker_->CallJson("DescribeEndpointConfig", {{"EndpointConfigName", name}});
    EXPECT_TRUE(r || r.error().code() == core::ErrorCode::kNotFound) << r.error().ToString();
    return r.has_value();
  }

  core::Variant Canary(std::string model = "") {
    core::Variant v;
    v.name = "canary";
    v.instances = 1;
    v.model.kind = core::ModelKind::kSagemaker;
    v.model.name = model.empty() ? M("canary") : std::move(model);
    return v;
  }

  json::object Datum(std::string_view metric, std::string_view variant, core::Timestamp at,
                     json::array values, json::array counts, std::string_view unit) {
    json::object d{
        {"MetricName", metric},
        {"Dimensions", json::array{json::object{{"Name", "EndpointName"}, {"Value", ep_}},
                                   json::object{{"Name", "VariantName"}, {"Value", variant}}}},
        {"Timestamp",
         std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count()},
        {"Values", std::move(values)},
        {"Unit", unit}};
    if (!counts.empty()) d["Counts"] = std::move(counts);
    return d;
  }

  static MotoHarness* harness_;
  static int endpoints_;
  // Each test its own endpoint and models: Reset() keeps moto's AWS state.
  const std::string ep_ = "t" + std::to_string(++endpoints_) + "-recs";
  std::unique_ptr<aws::AwsClient> sagemaker_, autoscaling_, cloudwatch_, sns_;
  core::ManualClock clock_{kNow};
  std::uint64_t bits_ = 0;
  std::vector<core::Duration> sleeps_;
  std::vector<std::string> log_;
};

MotoHarness* MotoTest::harness_ = nullptr;
int MotoTest::endpoints_ = 0;

using SageMakerTrafficControlTest = MotoTest;

TEST_F(SageMakerTrafficControlTest, DescribeEndpointNormalisesWeightsAndNamesModels) {
  SeedEndpoint(ep_, {{"prod", 3.0, 2}, {"blue", 1.0, 1}});
  auto traffic = Traffic();
  auto e = traffic->DescribeEndpoint(ep_);
  ASSERT_TRUE(e) << e.error().ToString();
  EXPECT_EQ(e->name, ep_);
  EXPECT_EQ(e->status, core::EndpointStatus::kInService);
  ASSERT_EQ(e->variants.size(), 2u);
  EXPECT_EQ(e->variants[0].name, "prod");
  EXPECT_DOUBLE_EQ(e->variants[0].weight, 0.75);
  EXPECT_EQ(e->variants[0].instances, 2);
  EXPECT_EQ(e->variants[0].model.kind, core::ModelKind::kSagemaker);
  EXPECT_EQ(e->variants[0].model.name, M("prod"));
  EXPECT_EQ(e->variants[0].model.instance_type, "ml.m5.large");
  EXPECT_EQ(e->variants[1].name, "blue");
  EXPECT_DOUBLE_EQ(e->variants[1].weight, 0.25);
  EXPECT_EQ(e->variants[1].model.name, M("blue"));
}

TEST_F(SageMakerTrafficControlTest, UnknownEndpointIsNotFound) {
  auto traffic = Traffic();
  auto e = traffic->DescribeEndpoint("nope");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), core::ErrorCode::kNotFound);
  EXPECT_THAT(e.error().message(), HasSubstr("'nope'"));
  auto s = traffic->SetWeights("nope", {{"prod", 1.0}});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), core::ErrorCode::kNotFound);
}

TEST_F(SageMakerTrafficControlTest, CreateVariantAddsCanaryAtZeroOnANewConfigAndScalesIt) {
  SeedEndpoint(ep_, {{"prod", 1.0, 2}});
  SeedModel(M("canary"));
  auto traffic = Traffic();
  ASSERT_TRUE(traffic->CreateVariant(ep_, Canary()));

  auto e = traffic->DescribeEndpoint(ep_);
  ASSERT_TRUE(e) << e.error().ToString();
  ASSERT_EQ(e->variants.size(), 2u);
  const core::Variant* prod = e->FindVariant("prod");
  const core::Variant* canary = e->FindVariant("canary");
  ASSERT_NE(prod, nullptr);
  ASSERT_NE(canary, nullptr);
  EXPECT_DOUBLE_EQ(prod->weight, 1.0);
  EXPECT_EQ(prod->instances, 2);
  EXPECT_DOUBLE_EQ(canary->weight, 0.0);
  EXPECT_EQ(canary->model.name, M("canary"));
  EXPECT_EQ(canary->model.instance_type, "ml.m5.large");  // the production variant's type

  EXPECT_EQ(ConfigOf(ep_), SageMakerTrafficControl::ConfigName(ep_, kNow, 1));
  auto old =
      sagemaker_->CallJson("DescribeEndpointConfig", {{"EndpointConfigName", ep_ + "-cfg-1"}});
  ASSERT_FALSE(old) << "the replaced config should be deleted";
  EXPECT_EQ(old.error().code(), core::ErrorCode::kNotFound);

  json::array targets = ScalableTargets(ResourceId("canary"));
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].at("MinCapacity").to_number<int>(), 1);
  EXPECT_EQ(targets[0].at("MaxCapacity").to_number<int>(), 10);
  json::object policies =
      Call(*autoscaling_, "DescribeScalingPolicies",
           {{"ServiceNamespace", "sagemaker"}, {"ResourceId", ResourceId("canary")}});
  ASSERT_EQ(policies.at("ScalingPolicies").as_array().size(), 1u);
  const json::value& policy = policies.at("ScalingPolicies").as_array()[0];
  EXPECT_EQ(policy.at("PolicyName").as_string(), ep_ + "-canary-invocations");
  EXPECT_EQ(
      policy.at("TargetTrackingScalingPolicyConfiguration").at("TargetValue").to_number<double>(),
      1000.0);
  EXPECT_TRUE(sleeps_.empty()) << "moto is InService at once; nothing to wait for";
}

TEST_F(SageMakerTrafficControlTest, CreateVariantRefusesNonSageMakerModels) {
  SeedEndpoint(ep_, {{"prod", 1.0, 1}});
  auto traffic = Traffic();
  core::Variant v = Canary();
  v.model.kind = core::ModelKind::kXgboost;
  auto s = traffic->CreateVariant(ep_, v);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), core::ErrorCode::kValidation);
  EXPECT_THAT(s.error().message(), HasSubstr("sagemaker"));
}

TEST_F(SageMakerTrafficControlTest, CheckVariantRefusesWithoutCallingSageMaker) {
  auto traffic = Traffic();
  EXPECT_TRUE(traffic->CheckVariant(ep_, Canary()));
  core::Variant xgboost = Canary();
  xgboost.model.kind = core::ModelKind::kXgboost;
  core::Variant bad_name = Canary();
  bad_name.name = "canary_v2";  // underscores are not allowed in SageMaker names
  core::Variant no_model = Canary();
  no_model.model.name.clear();
  core::Variant no_instances = Canary();
  no_instances.instances = 0;
  for (const core::Variant& v : {xgboost, bad_name, no_model, no_instances}) {
    auto s = traffic->CheckVariant(ep_, v);
    ASSERT_FALSE(s) << v.name;
    EXPECT_EQ(s.error().code(), core::ErrorCode::kValidation);
  }
  EXPECT_EQ(RequestCount("DescribeEndpoint"), 0);  // nothing asked of SageMaker
}

TEST_F(SageMakerTrafficControlTest, CreateVariantTwiceWithTheSameModelIsDone) {
  SeedEndpoint(ep_, {{"prod", 1.0, 1}});
  SeedModel(M("canary"));
  auto traffic = Traffic();
  ASSERT_TRUE(traffic->CreateVariant(ep_, Canary()));
  const std::string config = ConfigOf(ep_);
  ASSERT_TRUE(traffic->CreateVariant(ep_, Canary()));
  EXPECT_EQ(ConfigOf(ep_), config);
  auto other = traffic->CreateVariant(ep_, Canary(M("prod")));
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code(), core::ErrorCode::kConflict);
}

TEST_F(SageMakerTrafficControlTest, SetWeightsShiftsTraffic) {
  SeedEndpoint(ep_, {{"prod", 1.0, 1}});
  SeedModel(M("canary"));
  auto traffic = Traffic();
  ASSERT_TRUE(traffic->CreateVariant(ep_, Canary()));
  auto s = traffic->SetWeights(ep_, {{"prod", 0.9}, {"canary", 0.1}});
  ASSERT_TRUE(s) << s.error().ToString();
  auto e = traffic->DescribeEndpoint(ep_);
  ASSERT_TRUE(e);
  EXPECT_DOUBLE_EQ(e->FindVariant("prod")->weight, 0.9);
  EXPECT_DOUBLE_EQ(e->FindVariant("canary")->weight, 0.1);
}

TEST_F(SageMakerTrafficControlTest, SetWeightsRefusesBadSetsWithoutCallingUpdate) {
  SeedEndpoint(ep_, {{"prod", 0.5, 1}, {"blue", 0.5, 1}});
  auto traffic = Traffic();
  auto sum = traffic->SetWeights(ep_, {{"prod", 0.9}});  // blue keeps 0.5
  ASSERT_FALSE(sum);
  EXPECT_EQ(sum.error().code(), core::ErrorCode::kValidation);
  EXPECT_THAT(sum.error().message(), HasSubstr("sum to 1"));
  auto range = traffic->SetWeights(ep_, {{"prod", 1.5}, {"blue", -0.5}});
  ASSERT_FALSE(range);
  EXPECT_EQ(range.error().code(), core::ErrorCode::kValidation);
  auto ghost = traffic->SetWeights(ep_, {{"prod", 0.5}, {"ghost", 0.5}});
  ASSERT_FALSE(ghost);
  EXPECT_EQ(ghost.error().code(), core::ErrorCode::kNotFound);
  EXPECT_THAT(ghost.error().message(), HasSubstr("'ghost'"));
}

TEST_F(SageMakerTrafficControlTest, ThrottledWeightUpdatesAreRetried) {
  SeedEndpoint(ep_, {{"prod", 0.5, 1}, {"blue", 0.5, 1}});
  auto traffic = Traffic();
  ASSERT_TRUE(harness_->InjectFault("UpdateEndpointWeightsAndCapacities", 2, 400,
                                    "ThrottlingException", "Rate exceeded"));
  auto s = traffic->SetWeights(ep_, {{"prod", 1.0}, {"blue", 0.0}});
  ASSERT_TRUE(s) << s.error().ToString();
  auto e = traffic->DescribeEndpoint(ep_);
  ASSERT_TRUE(e);
  EXPECT_DOUBLE_EQ(e->FindVariant("prod")->weight, 1.0);
  EXPECT_DOUBLE_EQ(e->FindVariant("blue")->weight, 0.0);
}

TEST_F(SageMakerTrafficControlTest, ValidationExceptionFailsCleanlyAndLeavesWeights) {
  SeedEndpoint(ep_, {{"prod", 0.9, 1}, {"blue", 0.1, 1}});
  auto traffic = Traffic();
  ASSERT_TRUE(harness_->InjectFault("UpdateEndpointWeightsAndCapacities", 1, 400,
                                    "ValidationException", "DesiredWeight is refused"));
  auto s = traffic->SetWeights(ep_, {{"prod", 0.5}, {"blue", 0.5}});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), core::ErrorCode::kValidation);
  EXPECT_FALSE(s.error().retryable());
  EXPECT_THAT(s.error().message(), HasSubstr("DesiredWeight is refused"));
  auto e = traffic->DescribeEndpoint(ep_);
  ASSERT_TRUE(e);
  EXPECT_DOUBLE_EQ(e->FindVariant("prod")->weight, 0.9);
  EXPECT_DOUBLE_EQ(e->FindVariant("blue")->weight, 0.1);
}

TEST_F(SageMakerTrafficControlTest, SetWeightsDescribesAnInServiceEndpointOnceBeforeUpdating) {
  SeedEndpoint(ep_, {{"prod", 0.5, 1}, {"blue", 0.5, 1}});
  auto traffic = Traffic();
  const int before = RequestCount("DescribeEndpoint");
  ASSERT_TRUE(traffic->SetWeights(ep_, {{"prod", 1.0}, {"blue", 0.0}}));
  // One to read the weights, one (WaitInService) after the update.
  EXPECT_EQ(RequestCount("DescribeEndpoint") - before, 2);
  EXPECT_EQ(RequestCount("UpdateEndpointWeightsAndCapacities"), 1);
  const int again = RequestCount("DescribeEndpoint");
  ASSERT_TRUE(traffic->SetWeights(ep_, {{"prod", 1.0}, {"blue", 0.0}}));  // in force: no update
  EXPECT_EQ(RequestCount("DescribeEndpoint") - again, 1);
  EXPECT_EQ(RequestCount("UpdateEndpointWeightsAndCapacities"), 1);
}

TEST_F(SageMakerTrafficControlTest, UpdateInProgressIsRetryableAndTheNewConfigDeleted) {
  SeedEndpoint(ep_, {{"prod", 1.0, 1}});
  SeedModel(M("canary"));
  auto traffic = Traffic();
  ASSERT_TRUE(harness_->InjectFault("UpdateEndpoint", 1, 400, "ValidationException",
                                    "Cannot update in-progress endpoint \"arn:aws:sagemaker:"
                                    "us-east-1:123456789012:endpoint/" +
                                        ep_ + "\"."));
  auto s = traffic->CreateVariant(ep_, Canary());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), core::ErrorCode::kUnavailable) << s.error().ToString();
  EXPECT_TRUE(s.error().retryable());
  EXPECT_THAT(s.error().message(), HasSubstr("Cannot update in-progress endpoint"));
  EXPECT_EQ(RequestCount("UpdateEndpoint"), 1) << "retried by the caller, not the client";
  EXPECT_EQ(ConfigOf(ep_), ep_ + "-cfg-1");
  EXPECT_FALSE(ConfigExists(SageMakerTrafficControl::ConfigName(ep_, kNow, 1)))
      << "the endpoint is InService on its old config: the new one is deleted";
  // The caller's retry, once the other update is over, goes through.
  ASSERT_TRUE(traffic->CreateVariant(ep_, Canary()));
  EXPECT_EQ(ConfigOf(ep_), SageMakerTrafficControl::ConfigName(ep_, kNow, 2));
}

TEST_F(SageMakerTrafficControlTest, OtherValidationExceptionsOfUpdateEndpointAreNotRetryable) {
  SeedEndpoint(ep_, {{"prod", 1.0, 1}});
  SeedModel(M("canary"));
  auto traffic = Traffic();
  ASSERT_TRUE(harness_->InjectFault("UpdateEndpoint", 1, 400, "ValidationException",
                                    "Variant canary: instance type is not supported"));
  auto s = traffic->CreateVariant(ep_, Canary());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), core::ErrorCode::kValidation);
  EXPECT_FALSE(s.error().retryable());
  EXPECT_EQ(RequestCount("UpdateEndpoint"), 1);
  EXPECT_EQ(ConfigOf(ep_), ep_ + "-cfg-1");
  EXPECT_FALSE(ConfigExists(SageMakerTrafficControl::ConfigName(ep_, kNow, 1)));
}

TEST_F(SageMakerTrafficControlTest, FailedUpdateThatTookEffectKeepsTheConfigTheEndpointServes) {
  SeedEndpoint(ep_, {{"prod", 1.0, 1}});
  SeedModel(M("canary"));
  auto traffic = Traffic();
  // SageMaker acted on every try, but each answer was lost.
  ASSERT_TRUE(harness_->InjectFaultAfterForwarding("UpdateEndpoint", 3, 500, "InternalFailure",
                                                   "answer lost"));
  auto s = traffic->CreateVariant(ep_, Canary());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), core::ErrorCode::kUnavailable) << s.error().ToString();
  const std::string new_config = SageMakerTrafficControl::ConfigName(ep_, kNow, 1);
  ASSERT_EQ(ConfigOf(ep_), new_config);
  EXPECT_TRUE(ConfigExists(new_config)) << "the endpoint serves it: must not be deleted";
  EXPECT_THAT(log_, ::testing::Contains(HasSubstr("'" + new_config + "' kept")));
  // The caller's retry finds the variant there and finishes the job.
  ASSERT_TRUE(traffic->CreateVariant(ep_, Canary()));
  EXPECT_EQ(ScalableTargets(ResourceId("canary")).size(), 1u);
}

TEST_F(SageMakerTrafficControlTest, MissingServedConfigIsAFailedPreconditionNamingIt) {
  SeedEndpoint(ep_, {{"prod", 1.0, 1}, {"blue", 0.0, 1}});
  SeedModel(M("canary"));
  Call(*sagemaker_, "DeleteEndpointConfig", {{"EndpointConfigName", ep_ + "-cfg-1"}});
  auto traffic = Traffic();
  auto removed = traffic->RemoveVariant(ep_, "blue");
  ASSERT_FALSE(removed);
  // Not kNotFound: the controller would take that for "the variant is already gone".
  EXPECT_EQ(removed.error().code(), core::ErrorCode::kFailedPrecondition)
      << removed.error().ToString();
  EXPECT_THAT(removed.error().message(), HasSubstr("'" + ep_ + "-cfg-1'"));
  auto created = traffic->CreateVariant(ep_, Canary());
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code(), core::ErrorCode::kFailedPrecondition)
      << created.error().ToString();
  EXPECT_THAT(created.error().message(), HasSubstr("'" + ep_ + "-cfg-1'"));
  EXPECT_EQ(RequestCount("UpdateEndpoint"), 0);
}

TEST_F(SageMakerTrafficControlTest, NewConfigNeverVisibleIsUnavailable) {
  SeedEndpoint(ep_, {{"prod", 1.0, 1}});
  SeedModel(M("canary"));
  SageMakerOptions o;
  o.config_visible_attempts = 2;
  auto traffic = Traffic(o);
  ASSERT_TRUE(traffic->DescribeEndpoint(ep_));  // the old config is cached now
  const std::string new_config = SageMakerTrafficControl::ConfigName(ep_, kNow, 1);
  ASSERT_TRUE(harness_->InjectFault("DescribeEndpointConfig", 2, 400, "ValidationException",
                                    "Could not find endpoint configuration '" + new_config + "'."));
  auto s = traffic->CreateVariant(ep_, Canary());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), core::ErrorCode::kUnavailable) << s.error().ToString();
  EXPECT_THAT(s.error().message(), HasSubstr("'" + new_config + "' not visible after 2 reads"));
  EXPECT_EQ(RequestCount("UpdateEndpoint"), 0);
  EXPECT_EQ(ConfigOf(ep_), ep_ + "-cfg-1");
  EXPECT_EQ(sleeps_, (std::vector<core::Duration>{std::chrono::seconds(1)}));
}

TEST_F(SageMakerTrafficControlTest, ConcurrentUpdatesOfAutoScalingAreRetried) {
  SeedEndpoint(ep_, {{"prod", 1.0, 1}});
  SeedModel(M("canary"));
  auto traffic = Traffic();
  ASSERT_TRUE(harness_->InjectFault("RegisterScalableTarget", 1, 400, "ConcurrentUpdateException",
                                    "pending update"));
  ASSERT_TRUE(
      harness_->InjectFault("PutScalingPolicy", 1, 400, "InternalServiceException", "internal"));
  auto s = traffic->CreateVariant(ep_, Canary());
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(RequestCount("RegisterScalableTarget"), 2);
  EXPECT_EQ(RequestCount("PutScalingPolicy"), 2);
  EXPECT_EQ(ScalableTargets(ResourceId("canary")).size(), 1u);
}

TEST_F(SageMakerTrafficControlTest, RemoveVariantDeregistersScalingAndDropsTheVariant) {
  SeedEndpoint(ep_, {{"prod", 1.0, 1}});
  SeedModel(M("canary"));
  auto traffic = Traffic();
  ASSERT_TRUE(traffic->CreateVariant(ep_, Canary()));
  const std::string with_canary = ConfigOf(ep_);
  ASSERT_EQ(ScalableTargets(ResourceId("canary")).size(), 1u);

  auto busy = traffic->RemoveVariant(ep_, "prod");  // still serving
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code(), core::ErrorCode::kFailedPrecondition);

  auto s = traffic->RemoveVariant(ep_, "canary");
  ASSERT_TRUE(s) << s.error().ToString();
  auto e = traffic->DescribeEndpoint(ep_);
  ASSERT_TRUE(e);
  ASSERT_EQ(e->variants.size(), 1u);
  EXPECT_EQ(e->variants[0].name, "prod");
  EXPECT_DOUBLE_EQ(e->variants[0].weight, 1.0);
  EXPECT_TRUE(ScalableTargets(ResourceId("canary")).empty());
  EXPECT_NE(ConfigOf(ep_), with_canary);
  auto old = sagemaker_->CallJson("DescribeEndpointConfig", {{"EndpointConfigName", with_canary}});
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code(), core::ErrorCode::kNotFound);

  auto gone = traffic->RemoveVariant(ep_, "canary");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), core::ErrorCode::kNotFound);
}

TEST_F(SageMakerTrafficControlTest, CompletionSequenceLeavesOnlyTheCanary) {
  // The controller's complete: canary to 1.0, then the old production removed.
  SeedEndpoint(ep_, {{"prod", 1.0, 1}});
  SeedModel(M("canary"));
  auto traffic = Traffic();
  ASSERT_TRUE(traffic->CreateVariant(ep_, Canary()));
  ASSERT_TRUE(traffic->SetWeights(ep_, {{"prod", 0.0}, {"canary", 1.0}}));
  auto s = traffic->RemoveVariant(ep_, "prod");
  ASSERT_TRUE(s) << s.error().ToString();
  auto e = traffic->DescribeEndpoint(ep_);
  ASSERT_TRUE(e);
  ASSERT_EQ(e->variants.size(), 1u);
  EXPECT_EQ(e->variants[0].name, "canary");
  EXPECT_EQ(e->variants[0].model.name, M("canary"));
  EXPECT_DOUBLE_EQ(e->variants[0].weight, 1.0);
}

using SageMakerAutoScalingTest = MotoTest;

TEST_F(SageMakerAutoScalingTest, DeregisterOfWhatIsNotRegisteredIsDone) {
  auto scaling = SageMakerAutoScaling::Create(*autoscaling_, {});
  ASSERT_TRUE(scaling) << scaling.error().ToString();
  // moto: ValidationException "No scaling policy found ..." / "No scalable target found ...".
  auto s = (*scaling)->Deregister(ep_, "ghost");
  ASSERT_TRUE(s) << s.error().ToString();
  // AWS: ObjectNotFoundException, which the client maps to kNotFound (here: the policy
  // went between DescribeScalingPolicies and DeleteScalingPolicy).
  UserScaling("ghost", "ghost-scaling");
  ASSERT_TRUE(harness_->InjectFault("DeleteScalingPolicy", 1, 400, "ObjectNotFoundException",
                                    "Object not found"));
  ASSERT_TRUE(harness_->InjectFault("DeregisterScalableTarget", 1, 400, "ObjectNotFoundException",
                                    "Object not found"));
  s = (*scaling)->Deregister(ep_, "ghost");
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(RequestCount("DeregisterScalableTarget"), 2);
  // Anything else is an error.
  ASSERT_TRUE(
      harness_->InjectFault("DeleteScalingPolicy", 1, 400, "AccessDeniedException", "not allowed"));
  s = (*scaling)->Deregister(ep_, "ghost");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), core::ErrorCode::kPermissionDenied);
}

// The user's own autoscaling on the production variant, under a name mlcanary did not give.
TEST_F(SageMakerAutoScalingTest, DeregisterDeletesThePoliciesTheVariantHasWhateverTheirNames) {
  SeedEndpoint(ep_, {{"prod", 1.0, 1}});
  UserScaling("prod", "team-recs-scaling");
  UserScaling("prod", "team-recs-night");
  ASSERT_TRUE(harness_->Reset());

  auto scaling = SageMakerAutoScaling::Create(*autoscaling_, {});
  ASSERT_TRUE(scaling) << scaling.error().ToString();
  auto s = (*scaling)->Deregister(ep_, "prod");
  ASSERT_TRUE(s) << s.error().ToString();

  json::object left = Call(*autoscaling_, "DescribeScalingPolicies",
                           {{"ServiceNamespace", "sagemaker"}, {"ResourceId", ResourceId("prod")}});
  EXPECT_TRUE(left.at("ScalingPolicies").as_array().empty()) << left;
  EXPECT_TRUE(ScalableTargets(ResourceId("prod")).empty());
  // Each delete named a policy that exists: no guessed name, no 400 answered.
  auto requests = harness_->Requests();
  ASSERT_TRUE(requests) << requests.error().ToString();
  const json::value parsed = json::parse(*requests);
  std::vector<std::string> deleted;
  for (const json::value& r : parsed.as_array()) {
    if (r.at("operation") != "DeleteScalingPolicy") continue;
    deleted.emplace_back(r.at("params").at("PolicyName").as_string());
  }
  EXPECT_THAT(deleted, ::testing::UnorderedElementsAre("team-recs-scaling", "team-recs-night"));
}

TEST_F(SageMakerAutoScalingTest, DeregisterOfATargetWithoutPoliciesDeletesNoPolicy) {
  json::object target{{"ServiceNamespace", "sagemaker"},
                      {"ResourceId", ResourceId("prod")},
                      {"ScalableDimension", "sagemaker:variant:DesiredInstanceCount"},
                      {"MinCapacity", 1},
                      {"MaxCapacity", 2}};
  Call(*autoscaling_, "RegisterScalableTarget", target);
  auto scaling = SageMakerAutoScaling::Create(*autoscaling_, {});
  ASSERT_TRUE(scaling) << scaling.error().ToString();
  auto s = (*scaling)->Deregister(ep_, "prod");
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_TRUE(ScalableTargets(ResourceId("prod")).empty());
  EXPECT_EQ(RequestCount("DescribeScalingPolicies"), 1);
  EXPECT_EQ(RequestCount("DeleteScalingPolicy"), 0);
  EXPECT_EQ(RequestCount("DeregisterScalableTarget"), 1);
}

TEST_F(SageMakerAutoScalingTest, DeregisterStopsWhenThePoliciesCannotBeRead) {
  ASSERT_TRUE(harness_->InjectFault("DescribeScalingPolicies", 1, 400, "AccessDeniedException",
                                    "not allowed to describe"));
  auto scaling = SageMakerAutoScaling::Create(*autoscaling_, {});
  ASSERT_TRUE(scaling) << scaling.error().ToString();
  auto s = (*scaling)->Deregister(ep_, "prod");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), core::ErrorCode::kPermissionDenied);
  EXPECT_THAT(s.error().message(), HasSubstr("'prod'"));
  EXPECT_EQ(RequestCount("DeregisterScalableTarget"), 0);
}

using CloudWatchMetricsSourceTest = MotoTest;

TEST_F(CloudWatchMetricsSourceTest, OneWindowPerVariantInMillisecondsWithSumsAndP99) {
  // Recent data: CloudWatch refuses datapoints older than two weeks.
  const core::Timestamp t0 = std::chrono::floor<std::chrono::minutes>(
      std::chrono::time_point_cast<core::Duration>(std::chrono::system_clock::now()) -
      std::chrono::minutes(10));
  const core::Timestamp a = t0 + std::chrono::seconds(30);
  const core::Timestamp b = t0 + std::chrono::seconds(150);
  json::array sagemaker_data{
      Datum("Invocations", "prod", a, {600.0}, {}, "None"),
      Datum("Invocations", "prod", b, {400.0}, {}, "None"),
      Datum("Invocation5XXErrors", "prod", a, {1.0}, {}, "None"),
      // prod: every call 20 ms.
      Datum("ModelLatency", "prod", a, {20000.0}, {100.0}, "Microseconds"),
      Datum("Invocations", "canary", a, {150.0}, {}, "None"),
      Datum("Invocation4XXErrors", "canary", a, {2.0}, {}, "None"),
      Datum("Invocation5XXErrors", "canary", b, {3.0}, {}, "None"),
      // canary: 147 calls at 10 ms, 2 at 200 ms, 1 at 300 ms: p99 200 ms, max 300 ms.
      Datum("ModelLatency", "canary", a, {10000.0, 200000.0, 300000.0}, {147.0, 2.0, 1.0},
            "Microseconds"),
      Datum("OverheadLatency", "canary", a, {2000.0}, {}, "Microseconds"),
  };
  Call(*cloudwatch_, "PutMetricData",
       {{"Namespace", "AWS/SageMaker"}, {"MetricData", std::move(sagemaker_data)}});
  Call(*cloudwatch_, "PutMetricData",
       {{"Namespace", "/aws/sagemaker/Endpoints"},
        {"MetricData", json::array{Datum("CPUUtilization", "canary", a, {55.0}, {}, "Percent")}}});

  CloudWatchMetricsSource source(
      *cloudwatch_, [this](std::string_view endpoint) -> core::Result<std::vector<std::string>> {
        EXPECT_EQ(endpoint, ep_);
        return std::vector<std::string>{"prod", "canary", "idle"};
      });
  auto snapshot = source.Snapshot(ep_, t0 + std::chrono::seconds(5), t0 + std::chrono::minutes(4));
  ASSERT_TRUE(snapshot) << snapshot.error().ToString();
  ASSERT_EQ(snapshot->size(), 3u);

  const core::WindowMetrics& prod = snapshot->at("prod");
  EXPECT_EQ(prod.invocations, 1000);  // both minutes summed
  EXPECT_EQ(prod.errors_5xx, 1);
  EXPECT_EQ(prod.errors_4xx, 0);
  EXPECT_DOUBLE_EQ(prod.p99_ms, 20.0);
  EXPECT_DOUBLE_EQ(prod.p50_ms, 20.0);
  EXPECT_FALSE(prod.cpu_utilization);

  const core::WindowMetrics& canary = snapshot->at("canary");
  EXPECT_EQ(canary.invocations, 150);
  EXPECT_EQ(canary.errors_4xx, 2);
  EXPECT_EQ(canary.errors_5xx, 3);
  EXPECT_DOUBLE_EQ(canary.p50_ms, 10.0);
  EXPECT_DOUBLE_EQ(canary.p90_ms, 10.0);
  EXPECT_DOUBLE_EQ(canary.p99_ms, 200.0);
  EXPECT_DOUBLE_EQ(canary.overhead_ms, 2.0);
  ASSERT_TRUE(canary.cpu_utilization);
  EXPECT_DOUBLE_EQ(*canary.cpu_utilization, 55.0);

  const core::WindowMetrics& idle = snapshot->at("idle");
  EXPECT_EQ(idle.invocations, 0);
  EXPECT_FALSE(idle.has_data());
}

TEST_F(CloudWatchMetricsSourceTest, VariantListerErrorsPassThrough) {
  CloudWatchMetricsSource source(*cloudwatch_,
                                 [](std::string_view) -> core::Result<std::vector<std::string>> {
                                   return core::NotFoundError("endpoint 'recs' does not exist");
                                 });
  auto snapshot = source.Snapshot(ep_, kNow, kNow + std::chrono::minutes(1));
  ASSERT_FALSE(snapshot);
  EXPECT_EQ(snapshot.error().code(), core::ErrorCode::kNotFound);
}

TEST_F(CloudWatchMetricsSourceTest, ThrottledGetMetricDataIsRetried) {
  ASSERT_TRUE(harness_->InjectFault("GetMetricData", 1, 400, "Throttling", "Rate exceeded"));
  CloudWatchMetricsSource source(*cloudwatch_,
                                 [](std::string_view) -> core::Result<std::vector<std::string>> {
                                   return std::vector<std::string>{"prod"};
                                 });
  auto snapshot = source.Snapshot(ep_, kNow, kNow + std::chrono::minutes(1));
  ASSERT_TRUE(snapshot) << snapshot.error().ToString();
  EXPECT_EQ(snapshot->at("prod").invocations, 0);
}

// A port on 127.0.0.1 nothing listens on (bound, then closed).
int ClosedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(SnsNotifierStopTest, StopIsBoundedByTheDrainDeadlineWhenSnsIsUnreachable) {
  aws::ClientOptions co;
  co.endpoint_url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/";
  co.credentials = {"AKIDEXAMPLE", "secret", ""};
  co.connect_timeout = std::chrono::milliseconds(200);
  co.timeout = std::chrono::milliseconds(200);
  // Each Publish fails after its retries, about 100 ms each.
  co.sleep = [](core::Duration) { std::this_thread::sleep_for(std::chrono::milliseconds(50)); };
  auto client = aws::AwsClient::Create(aws::SnsService(), co);
  ASSERT_TRUE(client) << client.error().ToString();

  std::atomic<int> log_lines{0};
  SnsOptions o;
  o.topic_arn = "arn:aws:sns:us-east-1:123456789012:events";
  o.drain_timeout = std::chrono::milliseconds(300);
  o.log = [&](std::string_view) { log_lines.fetch_add(1); };
  auto notifier = SnsNotifier::Create(**client, o);
  ASSERT_TRUE(notifier) << notifier.error().ToString();
  core::Deployment d;
  d.id = "dep-1";
  d.endpoint = "recs";
  constexpr int kMessages = 50;  // ~5 s of failing Publishes, were they all tried
  for (int i = 0; i < kMessages; ++i) {
    core::DeploymentEvent e;
    e.seq = i;
    (*notifier)->Notify(d, e);
  }
  const auto start = std::chrono::steady_clock::now();
  (*notifier)->Stop();
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(2));

  const SnsCounters c = (*notifier)->counters();
  EXPECT_EQ(c.published, 0u);
  EXPECT_GE(c.failed, 1u);
  EXPECT_GE(c.dropped, 1u);  // the undrained rest
  EXPECT_EQ(c.failed + c.dropped, static_cast<std::uint64_t>(kMessages));
  EXPECT_EQ(c.queued, 0u);
  // One line per failed Publish, one for the messages dropped at shutdown.
  EXPECT_EQ(log_lines.load(), static_cast<int>(c.failed) + 1);
}

TEST(SnsNotifierStopTest, FullQueueLogsDropsThrottled) {
  aws::ClientOptions co;
  co.endpoint_url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/";
  co.credentials = {"AKIDEXAMPLE", "secret", ""};
  co.max_attempts = 1;
  auto client = aws::AwsClient::Create(aws::SnsService(), co);
  ASSERT_TRUE(client) << client.error().ToString();

  std::mutex mu;
  std::vector<std::string> full_lines;
  SnsOptions o;
  o.topic_arn = "arn:aws:sns:us-east-1:123456789012:events";
  o.queue_capacity = 1;
  o.drain_timeout = std::chrono::milliseconds(0);
  o.log = [&](std::string_view line) {
    std::lock_guard lock(mu);
    if (line.find("queue full") != std::string_view::npos) full_lines.emplace_back(line);
  };
  auto notifier = SnsNotifier::Create(**client, o);
  ASSERT_TRUE(notifier) << notifier.error().ToString();
  for (int i = 0; i < 200; ++i) (*notifier)->Notify(core::Deployment{}, core::DeploymentEvent{});
  (*notifier)->Stop();
  const SnsCounters c = (*notifier)->counters();
  EXPECT_EQ(c.published + c.failed + c.dropped, 200u);
  std::lock_guard lock(mu);
  // Logged on the 1st, 2nd, 4th... overflow only: at most 8 lines for < 200 drops.
  EXPECT_GE(full_lines.size(), 1u);
  EXPECT_LE(full_lines.size(), 8u);
}

using SnsNotifierTest = MotoTest;

TEST_F(SnsNotifierTest, PublishReachesTheTopicWithAttributes) {
  auto created = sns_->CallQuery("CreateTopic", {{"Name", "mlcanary-events"}});
  ASSERT_TRUE(created) << created.error().ToString();
  const auto topic = aws::XmlText(*created, "TopicArn");
  ASSERT_TRUE(topic);

  SnsOptions o;
  o.topic_arn = *topic;
  auto notifier = SnsNotifier::Create(*sns_, o);
  ASSERT_TRUE(notifier) << notifier.error().ToString();
  core::Deployment d;
  d.id = "dep-7";
  d.endpoint = "recs";
  core::DeploymentEvent e;
  e.deployment_id = "dep-7";
  e.kind = core::EventKind::kTransition;
  e.from_state = core::DeploymentState::kInProgress;
  e.to_state = core::DeploymentState::kRollingBack;
  (*notifier)->Notify(d, e);
  (*notifier)->Stop();
  const SnsCounters c = (*notifier)->counters();
  EXPECT_EQ(c.published, 1u);
  EXPECT_EQ(c.failed, 0u);
  EXPECT_EQ(c.queued, 0u);

  auto messages = harness_->SnsMessages();
  ASSERT_TRUE(messages) << messages.error().ToString();
  const std::string& text = *messages;
  EXPECT_THAT(text, HasSubstr("mlcanary recs: IN_PROGRESS -> ROLLING_BACK"));
  EXPECT_THAT(text, HasSubstr("ROLLING_BACK"));
  EXPECT_THAT(text, HasSubstr("deployment_id"));
  EXPECT_THAT(text, HasSubstr("dep-7"));
}

TEST_F(SnsNotifierTest, NotifyAfterStopIsDroppedNotBlocked) {
  SnsOptions o;
  o.topic_arn = "arn:aws:sns:us-east-1:123456789012:none";
  auto notifier = SnsNotifier::Create(*sns_, o);
  ASSERT_TRUE(notifier);
  (*notifier)->Stop();
  (*notifier)->Notify(core::Deployment{}, core::DeploymentEvent{});
  EXPECT_EQ((*notifier)->counters().dropped, 1u);
  EXPECT_FALSE(SnsNotifier::Create(*sns_, SnsOptions{.topic_arn = "recs-topic"}));
}

}  // namespace
}  // namespace mlcanary::sagemaker
