#include "config/policy_yaml.h"

#include <gtest/gtest.h>

namespace mlcanary::config {
namespace {

core::Result<core::Policy> Parse(const std::string& yaml, BareNumber bare = BareNumber::kMinutes) {
  auto node = LoadYamlString(yaml, "s.yaml");
  if (!node) return std::unexpected(node.error());
  return ReadPolicy(*node, YamlPath("s.yaml", "policy"), bare);
}

TEST(PolicyYamlTest, EmptyMappingGivesDefaults) {
  auto p = Parse("{}");
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(*p, core::Policy{});
}

// Found by fuzz/policy_yaml: a bare number of minutes had no upper bound, so
// a scenario accepted a bake the JSON API refuses, and 1e300 overflowed into a
// negative duration.
TEST(PolicyYamlTest, BareMinutesHaveTheDurationBound) {
  auto ok = Parse("{bake: 16666666}");  // 999999960000 ms, under 1e15
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(ok->bake, std::chrono::minutes(16666666));
  for (const char* yaml : {"{bake: 54444444444444}", "{interval: 1e300}"}) {
    auto p = Parse(yaml);
    ASSERT_FALSE(p) << yaml;
    EXPECT_NE(p.error().message().find("minutes is too large"), std::string::npos)
        << p.error().message();
  }
}

TEST(PolicyYamlTest, ReadsEveryKey) {
  auto p = Parse(
      "{initial_weight: 0.05, step: 0.2, bake: 5m, interval: 30s, final_bake: 2m, max_p99_ms: 80,"
      " max_error_rate: 0.02, max_latency_ratio: 1.5, max_error_rate_diff: 0.01,"
      " latency_ratio_min_p99_ms: 3, latency_breaches_to_rollback: 4, error_breaches_to_rollback: "
      "1, min_invocations: 10,"
      " auto_rollback: false}");
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_DOUBLE_EQ(p->initial_weight, 0.05);
  EXPECT_DOUBLE_EQ(p->step, 0.2);
  EXPECT_EQ(p->bake, std::chrono::minutes(5));
  EXPECT_EQ(p->interval, std::chrono::seconds(30));
  EXPECT_EQ(p->final_bake, std::chrono::minutes(2));
  EXPECT_DOUBLE_EQ(p->max_p99_ms, 80);
  EXPECT_DOUBLE_EQ(p->latency_ratio_min_p99_ms, 3);
  EXPECT_EQ(p->latency_breaches_to_rollback, 4);
  EXPECT_EQ(p->error_breaches_to_rollback, 1);
  EXPECT_EQ(p->min_invocations, 10);
  EXPECT_FALSE(p->auto_rollback);
}

TEST(PolicyYamlTest, BareNumbersAreMinutesInScenarios) {
  auto p = Parse("{bake: 10, interval: 0.5}");
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(p->bake, std::chrono::minutes(10));
  EXPECT_EQ(p->interval, std::chrono::seconds(30));
}

TEST(PolicyYamlTest, BareNumbersNeedAUnitInConfig) {
  auto p = Parse("{bake: 10}", BareNumber::kRefused);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message().find("policy.bake"), std::string::npos);
  EXPECT_NE(p.error().message().find("unit"), std::string::npos);
}

struct BadCase {
  const char* yaml;
  const char* field;
};

class PolicyYamlBadInputTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(PolicyYamlBadInputTest, NamesFileAndField) {
  auto p = Parse(GetParam().yaml);
  ASSERT_FALSE(p) << GetParam().yaml;
  EXPECT_EQ(p.error().code(), core::ErrorCode::kValidation);
  EXPECT_NE(p.error().message().find("s.yaml"), std::string::npos) << p.error().message();
  EXPECT_NE(p.error().message().find(GetParam().field), std::string::npos) << p.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PolicyYamlBadInputTest,
    ::testing::Values(
        BadCase{"{initial_weight: 1.5}", "policy.initial_weight"},
        BadCase{"{initial_weight: -0.1}", "policy.initial_weight"},
        BadCase{"{step: 0}", "policy.step"},
        BadCase{"{initial_weight: 1e-7}", "policy.initial_weight (line 1): weight 1e-07 must be"},
        BadCase{"{step: 0.0000005}", "policy.step (line 1): weight 5e-07 must be"},
        BadCase{"{steps: [1e-7, 1.0]}", "policy.steps[0] (line 1): weight 1e-07 must be"},
        BadCase{"{steps: [0.1, 0.05, 1.0]}", "policy.steps[1]"},
        BadCase{"{steps: [0.1, 2.0]}", "policy.steps[1]"}, BadCase{"{steps: []}", "policy.steps"},
        BadCase{"{steps: [0.1, x]}", "policy.steps[1]"}, BadCase{"{bake: -5}", "policy.bake"},
        BadCase{"{bake: -5m}", "policy.bake"}, BadCase{"{interval: 0}", "policy.interval"},
        BadCase{"{final_bake: soon}", "policy.final_bake"},
        BadCase{"{max_p99_ms: fast}", "policy.max_p99_ms"},
        BadCase{"{max_p99_ms: [1]}", "policy.max_p99_ms"},
        BadCase{"{max_error_rate: .nan}", "policy.max_error_rate"},
        BadCase{"{min_invocations: 1.5}", "policy.min_invocations"},
        BadCase{"{auto_rollback: maybe}", "policy.auto_rollback"},
        BadCase{"{latency_breaches_to_rollback: 0}", "policy.latency_breaches_to_rollback"},
        BadCase{"{bakee: 10}", "policy.bakee"}, BadCase{"[1, 2]", "policy"},
        // The shadow phase and the paired divergence check (issue 14).
        BadCase{"{shadow: {duration: 10m, sample: 0}}", "policy.shadow.sample (line 1): 0 must be"},
        BadCase{"{shadow: {duration: 10m, sample: 1.5}}", "policy.shadow.sample"},
        BadCase{"{shadow: {duration: 10m, sample: lots}}", "policy.shadow.sample"},
        BadCase{"{shadow: {sample: 0.5}}", "policy.shadow.duration"},
        BadCase{"{shadow: {duration: 0s}}", "policy.shadow.duration"},
        BadCase{"{shadow: {duration: 10m, smaple: 1}}", "policy.shadow.smaple"},
        BadCase{"{shadow: 10m}", "policy.shadow"},
        BadCase{"{divergence_tolerance: -0.1}", "policy.divergence_tolerance"},
        BadCase{"{divergence_max_disagreement: 1.5}", "policy.divergence_max_disagreement"},
        BadCase{"{divergence_output: -2}", "policy.divergence_output"}));

TEST(PolicyYamlTest, ReadsTheShadowGroupAndThePairedCheck) {
  auto p = Parse(
      "{shadow: {duration: 10m, sample: 0.25}, divergence_tolerance: 0.05,"
      " divergence_max_disagreement: 0.02, divergence_output: 1}");
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(p->shadow_duration, std::chrono::minutes(10));
  EXPECT_DOUBLE_EQ(p->shadow_sample, 0.25);
  EXPECT_DOUBLE_EQ(p->divergence_tolerance, 0.05);
  EXPECT_DOUBLE_EQ(p->divergence_max_disagreement, 0.02);
  EXPECT_EQ(p->divergence_output, 1);
  EXPECT_TRUE(core::ShadowOn(*p));
  EXPECT_FALSE(core::ShadowOn(*Parse("{}")));
}

// Issue 15: hooks and analysis hooks, and their bad forms refused naming the key.
TEST(PolicyYamlTest, ReadsHooksAndRefusesBadOnesNamingTheKey) {
  auto p = Parse(
      "hooks:\n"
      "  confirm_step: {url: 'https://ci.local/confirm', timeout: 5s, retries: 2,\n"
      "                 metadata: {team: ranking}}\n"
      "  post_rollout: {url: 'http://chat.local/done'}\n"
      "analysis: [{url: 'http://eval.local/vote', timeout: 20s}]\n"
      "analysis_breaches_to_rollback: 1\n",
      BareNumber::kRefused);
  ASSERT_TRUE(p) << p.error().ToString();
  const auto& confirm = p->hooks[core::HookPoint::kConfirmStep];
  ASSERT_TRUE(confirm);
  EXPECT_EQ(confirm->url, "https://ci.local/confirm");
  EXPECT_EQ(confirm->timeout, std::chrono::seconds(5));
  EXPECT_EQ(confirm->retries, 2);
  EXPECT_EQ(confirm->metadata.at("team"), "ranking");
  EXPECT_EQ(p->hooks[core::HookPoint::kPostRollout]->retries, 1);
  EXPECT_FALSE(p->hooks[core::HookPoint::kPreRollout]);
  ASSERT_EQ(p->analysis.size(), 1u);
  EXPECT_EQ(p->analysis[0].timeout, std::chrono::seconds(20));
  EXPECT_EQ(p->analysis_breaches_to_rollback, 1);

  struct Case {
    const char* yaml;
    const char* error;
  } cases[] = {
      {"hooks: {confirm_step: {url: 'ftp://x/y'}}",
       "s.yaml: policy.hooks.confirm_step.url (line 1): 'ftp://x/y' must be an http:// or "
       "https:// URL"},
      {"hooks: {pre_rollout: {url: 'http://x', timeout: 45s}}",
       "policy.hooks.pre_rollout.timeout (line 1): 45s must be > 0 and at most 30s"},
      {"hooks: {pre_rollout: {url: 'http://x', timeout: 0s}}",
       "policy.hooks.pre_rollout.timeout (line 1): 0s must be > 0"},
      {"hooks: {on_rollback: {url: 'http://x', retries: 9}}",
       "policy.hooks.on_rollback.retries (line 1): 9 must be between 0 and 3"},
      {"hooks: {after_lunch: {url: 'http://x'}}",
       "policy.hooks.after_lunch (line 1): unknown hook"},
      {"hooks: {pre_complete: {timeout: 5s}}", "policy.hooks.pre_complete.url (line 1): missing"},
      {"hooks: {pre_complete: {url: 'http://x', secret: 1}}", "policy.hooks.pre_complete.secret"},
      {"analysis: [{url: 'http://x'}, {url: 'mailto:a@b'}]",
       "policy.analysis[1].url (line 1): 'mailto:a@b' must be an http:// or https:// URL"},
      {"analysis: {url: 'http://x'}", "policy.analysis (line 1): expected a list of hooks"},
  };
  for (const Case& c : cases) {
    auto bad = Parse(c.yaml, BareNumber::kRefused);
    ASSERT_FALSE(bad) << c.yaml;
    EXPECT_NE(bad.error().message().find(c.error), std::string::npos)
        << c.yaml << " -> " << bad.error().message();
  }
}

}  // namespace
}  // namespace mlcanary::config
