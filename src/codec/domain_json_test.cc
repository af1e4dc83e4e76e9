#include "codec/domain_json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace mlcanary::codec {
namespace {

core::Timestamp T(int minute) {
  return core::Timestamp(std::chrono::sys_days(std::chrono::year(2026) / 11 / 28)) +
         std::chrono::minutes(minute);
}

core::Deployment SampleDeployment() {
  core::Deployment d;
  d.id = "dep-1";
  d.endpoint = "recs";
  d.production_variant = "production";
  d.canary_variant = "canary-v2";
  d.canary_model = {.kind = core::ModelKind::kHttp,
                    .path = "",
                    .url = "http://127.0.0.1:9001",
                    .timeout = std::chrono::milliseconds(250)};
  d.canary_instances = 2;
  d.state = core::DeploymentState::kInProgress;
  d.canary_weight = 0.3;
  d.paused = true;
  d.policy.steps = {0.05, 0.5, 1.0};
  d.policy.final_bake = std::chrono::minutes(5);
  d.created_at = T(0);
  d.updated_at = T(21);
  d.progress = {.weight_since = T(20),
                .healthy_since = T(21),
                .last_check_at = T(21),
                .latency_breaches = 1,
                .error_breaches = 0,
                .failed_checks = 2,
                .checks = 21};
  d.version = 7;
  return d;
}

TEST(DomainJsonTest, DeploymentRoundTrips) {
  const core::Deployment d = SampleDeployment();
  auto parsed = ParseJson(DeploymentJson(d), "x");
  ASSERT_TRUE(parsed);
  auto back = ParseDeployment(*parsed, "deployment");
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(*back, d);
}

// A record written by an older version, which accepted weights below the
// resolution and steps equal once rounded, still reads; a request does not.
TEST(DomainJsonTest, StoredPolicyReadsWithTheRulesOfOlderVersions) {
  const std::pair<std::vector<core::PolicyStep>, std::string> cases[] = {
      {{1e-7, 0.5}, "body.policy.steps[0]: weight 1e-07 must be at least 1e-06"},
      {{0.1, 0.1000001}, "body.policy.steps[1]: steps must be strictly increasing at the weight"}};
  for (const auto& [steps, refusal] : cases) {
    core::Deployment d = SampleDeployment();
    d.policy.steps = steps;
    auto parsed = ParseJson(DeploymentJson(d), "x");
    ASSERT_TRUE(parsed);
    auto back = ParseDeployment(*parsed, "deployment");
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_EQ(*back, d);
    auto request = ParsePolicy(parsed->as_object().at("policy"), "body.policy");
    ASSERT_FALSE(request);
    EXPECT_NE(request.error().message().find(refusal), std::string::npos)
        << request.error().message();
  }
  core::Deployment d = SampleDeployment();
  d.policy.steps.clear();
  d.policy.initial_weight = 1e-7;
  d.policy.step = 5e-7;
  auto parsed = ParseJson(DeploymentJson(d), "x");
  ASSERT_TRUE(parsed);
  auto back = ParseDeployment(*parsed, "deployment");
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_DOUBLE_EQ(back->policy.initial_weight, 1e-7);
  EXPECT_DOUBLE_EQ(back->policy.step, 5e-7);
  // What no version accepted is still refused.
  d.policy.step = 0;
  parsed = ParseJson(DeploymentJson(d), "x");
  ASSERT_TRUE(parsed);
  EXPECT_FALSE(ParseDeployment(*parsed, "deployment"));
}

TEST(DomainJsonTest, DeploymentHasApiFields) {
  auto v = ParseJson(DeploymentJson(SampleDeployment()), "x");
  const auto& o = v->as_object();
  for (const char* key : {"id", "endpoint", "production_variant", "canary_variant", "state",
                          "canary_weight", "paused", "policy", "created_at", "updated_at"}) {
    EXPECT_TRUE(o.contains(key)) << key;
  }
  EXPECT_EQ(o.at("state").as_string(), "IN_PROGRESS");
  EXPECT_EQ(o.at("created_at").as_string(), "2026-11-28T00:00:00Z");
}

TEST(DomainJsonTest, EventWithCheckRoundTrips) {
  core::Policy policy;
  core::WindowMetrics canary{.invocations = 600,
                             .errors_4xx = 1,
                             .errors_5xx = 2,
                             .p50_ms = 20,
                             .p90_ms = 30,
                             .p99_ms = 130,
                             .overhead_ms = 0.4,
                             .cpu_utilization = 12.5};
  core::WindowMetrics production{.invocations = 5400, .p99_ms = 40};
  core::DeploymentEvent e;
  e.seq = 12;
  e.deployment_id = "dep-1";
  e.time = T(26);
  e.kind = core::EventKind::kCheck;
  e.from_state = e.to_state = core::DeploymentState::kInProgress;
  e.weight_before = e.weight_after = 0.3;
  e.reason = "canary p99 130.0ms >= max_p99_ms 100 (latency breach 1/3)";
  e.actor = "controller";
  e.check = core::EvaluateHealth(canary, production, policy);
  auto back = ParseEvent(*ParseJson(EventJson(e), "x"), "event");
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(*back, e);
}

// Found by fuzz/domain_json: a check without "canary" or "production" was a
// null dereference.
TEST(DomainJsonTest, CheckWithoutVariantMetricsIsRefused) {
  const core::WindowMetrics m{.invocations = 10, .p99_ms = 5};
  util::JsonWriter w;
  WriteHealthReport(w, core::EvaluateHealth(m, m, core::Policy{}));
  const std::string text = w.Release();
  for (const char* key : {"canary", "production"}) {
    auto v = ParseJson(text, "x");
    ASSERT_TRUE(v && ParseHealthReport(*v, "event.check"));
    v->as_object().erase(key);
    auto back = ParseHealthReport(*v, "event.check");
    ASSERT_FALSE(back) << key;
    EXPECT_EQ(back.error().message(), "event.check." + std::string(key) + ": missing");
  }
}

TEST(DomainJsonTest, PolicyOverridesApplyOnTopOfBase) {
  auto v = ParseJson(R"({"bake": "2s", "interval": "1s", "max_p99_ms": 50})", "x");
  auto p = ParsePolicy(*v, "body.policy");
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(p->bake, std::chrono::seconds(2));
  EXPECT_EQ(p->interval, std::chrono::seconds(1));
  EXPECT_DOUBLE_EQ(p->max_p99_ms, 50);
  EXPECT_DOUBLE_EQ(p->max_error_rate, 0.01);
}

TEST(DomainJsonTest, PolicyErrorsNameTheKeyPath) {
  struct Case {
    const char* json;
    const char* needle;
  };
  for (const Case& c :
       {Case{R"({"bake": 10})", "body.policy.bake: expected a string"},
        Case{R"({"bake": "10x"})", "body.policy.bake"},
        Case{R"({"steps": [0.5, "a"]})", "body.policy.steps[1]"},
        Case{R"({"steps": [0.5, 0.2]})", "body.policy.steps[1]"},
        Case{R"({"initial_weight": 3})", "body.policy.initial_weight"},
        Case{R"({"initial_weight": 1e-7})",
             "body.policy.initial_weight: weight 1e-07 must be at least 1e-06"},
        Case{R"({"step": 5e-7})", "body.policy.step: weight 5e-07"},
        Case{R"({"steps": [1e-7, 1]})", "body.policy.steps[0]: weight 1e-07"},
        Case{R"({"max_p99_ms": "fast"})", "body.policy.max_p99_ms"},
        Case{R"({"auto_rollback": 1})", "body.policy.auto_rollback"},
        Case{R"({"min_invocations": 1.5})", "body.policy.min_invocations"},
        Case{R"({"bakee": "1m"})", "body.policy.bakee: unknown key"},
        Case{R"([1])", "body.policy: expected an object"},
        Case{R"({"shadow": {"duration": "10m", "sample": 0}})",
             "body.policy.shadow.sample: 0 must be in (0, 1]"},
        Case{R"({"shadow": {"duration": "10m", "sample": "all"}})",
             "body.policy.shadow.sample: expected a number"},
        Case{R"({"shadow": {"sample": 0.5}})", "body.policy.shadow.duration"},
        Case{R"({"shadow": {"duration": "1m", "x": 1}})", "body.policy.shadow.x: unknown key"},
        Case{R"({"shadow": true})", "body.policy.shadow: expected an object"},
        Case{R"({"divergence_tolerance": -1})", "body.policy.divergence_tolerance"},
        Case{R"({"divergence_max_disagreement": 2})",
             "body.policy.divergence_max_disagreement: 2 must be in [0, 1]"},
        Case{R"({"divergence_output": -3})", "body.policy.divergence_output"}}) {
    auto p = ParsePolicy(*ParseJson(c.json, "x"), "body.policy");
    ASSERT_FALSE(p) << c.json;
    EXPECT_EQ(p.error().code(), core::ErrorCode::kValidation);
    EXPECT_NE(p.error().message().find(c.needle), std::string::npos) << p.error().message();
  }
}

TEST(DomainJsonTest, ModelSpecIsValidatedByKind) {
  EXPECT_TRUE(ParseModelSpec(*ParseJson(R"({"kind":"xgboost","path":"m.json"})", "x"), "m"));
  EXPECT_TRUE(ParseModelSpec(*ParseJson(R"({"path":"m.json"})", "x"), "m"));  // xgboost default
  auto http = ParseModelSpec(
      *ParseJson(R"({"kind":"http","url":"http://h:1","timeout":"50ms"})", "x"), "m");
  ASSERT_TRUE(http);
  EXPECT_EQ(http->timeout, std::chrono::milliseconds(50));
  EXPECT_FALSE(ParseModelSpec(*ParseJson(R"({"kind":"onnx","path":"m"})", "x"), "m"));
  EXPECT_FALSE(ParseModelSpec(*ParseJson(R"({"kind":"http"})", "x"), "m"));
  EXPECT_FALSE(ParseModelSpec(*ParseJson(R"({"kind":"http","url":"ftp://x"})", "x"), "m"));
  EXPECT_FALSE(ParseModelSpec(*ParseJson(R"({"kind":"xgboost","path":""})", "x"), "m"));
  EXPECT_FALSE(ParseModelSpec(*ParseJson(R"({"path":"m","extra":1})", "x"), "m"));
}

TEST(DomainJsonTest, TheShadowGroupIsWrittenOnlyWhenOnAndReadsBack) {
  util::JsonWriter off;
  WritePolicy(off, core::Policy{});
  EXPECT_EQ(off.str().find("shadow"), std::string::npos) << off.str();
  auto p = ParsePolicy(
      *ParseJson(R"({"shadow": {"duration": "10m", "sample": 0.5}, "divergence_output": 0})", "x"),
      "policy", {});
  ASSERT_TRUE(p) << p.error().ToString();
  util::JsonWriter w;
  WritePolicy(w, *p);
  EXPECT_NE(w.str().find(R"("shadow":{"duration":"10m","sample":0.5})"), std::string::npos)
      << w.str();
  auto back = ParsePolicy(*ParseJson(w.str(), "x"), "policy", {});
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(*back, *p);
}

TEST(DomainJsonTest, LatencyRatioFloorIsAPolicyKeyAndAThreshold) {
  auto p = ParsePolicy(*ParseJson(R"({"latency_ratio_min_p99_ms": 2.5})", "x"), "policy", {});
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_DOUBLE_EQ(p->latency_ratio_min_p99_ms, 2.5);
  util::JsonWriter w;
  WritePolicy(w, *p);
  EXPECT_NE(w.str().find(R"("latency_ratio_min_p99_ms":2.5)"), std::string::npos) << w.str();
}

TEST(DomainJsonTest, SagemakerModelSpecRoundTripsAndIsValidated) {
  core::ModelSpec m{
      .kind = core::ModelKind::kSagemaker, .name = "recs-v2", .instance_type = "ml.m5.large"};
  util::JsonWriter w;
  WriteModelSpec(w, m);
  EXPECT_EQ(w.str(), R"({"kind":"sagemaker","name":"recs-v2","instance_type":"ml.m5.large"})");
  auto back = ParseModelSpec(*ParseJson(w.str(), "x"), "model");
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(*back, m);
  auto no_type = ParseModelSpec(*ParseJson(R"({"kind":"sagemaker","name":"v2"})", "x"), "m");
  ASSERT_TRUE(no_type);
  EXPECT_TRUE(no_type->instance_type.empty());  // the production variant's type
  for (const char* bad : {R"({"kind":"sagemaker"})", R"({"kind":"sagemaker","name":"recs_v2"})",
                          R"({"kind":"sagemaker","name":"-v2"})",
                          R"({"kind":"sagemaker","name":"v2","instance_type":"m5.large"})",
                          R"({"kind":"sagemaker","name":"v2","path":"m.json"})",
                          R"({"kind":"xgboost","path":"m.json","name":"v2"})"}) {
    auto r = ParseModelSpec(*ParseJson(bad, "x"), "model");
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code(), core::ErrorCode::kValidation) << bad;
    }
  }
}

TEST(DomainJsonTest, EndpointRoundTrips) {
  core::Endpoint e;
  e.name = "recs";
  e.variants.push_back({.name = "production",
                        .weight = 0.9,
                        .instances = 2,
                        .model = {.kind = core::ModelKind::kXgboost, .path = "v1.json"}});
  e.variants.push_back({.name = "canary",
                        .weight = 0.1,
                        .instances = 1,
                        .model = {.kind = core::ModelKind::kXgboost, .path = "v2.json"}});
  util::JsonWriter w;
  WriteEndpoint(w, e);
  auto back = ParseEndpoint(*ParseJson(w.str(), "x"), "endpoint");
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(*back, e);
}

TEST(DomainJsonTest, InvalidJsonIsAValidationError) {
  auto v = ParseJson("{\"a\": ", "body");
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), core::ErrorCode::kValidation);
  EXPECT_NE(v.error().message().find("body: invalid JSON"), std::string::npos);
}

// The control API's answers to GET /v1/deployments and .../events, as the
// server writes them (with keys the types do not hold).
TEST(DomainJsonTest, ListsReadEveryElementAndIgnoreOtherKeys) {
  const core::Deployment d = SampleDeployment();
  std::string deployment = DeploymentJson(d);
  deployment.insert(deployment.size() - 1, R"(,"last_check_error":null,"unrecorded":null)");
  auto list = ParseDeploymentList(
      *ParseJson(R"({"deployments":[)" + deployment + "," + deployment + "]}", "x"), "answer");
  ASSERT_TRUE(list) << list.error().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1], d);

  core::DeploymentEvent e;
  e.seq = 3;
  e.deployment_id = "dep-1";
  e.time = T(2);
  e.kind = core::EventKind::kTransition;
  e.to_state = core::DeploymentState::kInProgress;
  e.weight_after = 0.1;
  e.reason = "started";
  e.actor = "controller";
  auto events = ParseEventList(
      *ParseJson(R"({"deployment_id":"dep-1","events":[)" + EventJson(e) + "]}", "x"), "answer");
  ASSERT_TRUE(events) << events.error().ToString();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front(), e);
  auto empty = ParseEventList(*ParseJson(R"({"events":[]})", "x"), "answer");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(DomainJsonTest, ListErrorsNameTheElement) {
  auto missing = ParseDeploymentList(*ParseJson("{}", "x"), "answer");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "answer.deployments: missing");
  auto not_array = ParseEventList(*ParseJson(R"({"events":{}})", "x"), "answer");
  ASSERT_FALSE(not_array);
  EXPECT_EQ(not_array.error().message(), "answer.events: expected an array");
  auto bad = ParseEventList(*ParseJson(R"({"events":[{"seq":1}]})", "x"), "answer");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "answer.events[0].deployment_id: missing");
}

}  // namespace
}  // namespace mlcanary::codec
