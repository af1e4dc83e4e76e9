// The hooks' JSON: the body sent, and the analysis answer read.
#include "codec/hook_json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "codec/domain_json.h"

namespace mlcanary::codec {
namespace {

namespace json = boost::json;

core::HookRequest SampleRequest() {
  core::HookRequest r;
  r.hook = "confirm_step";
  r.spec.url = "http://ci.local/hook";
  r.spec.metadata = {{"team", "ranking"}, {"ticket", "ML-42"}};
  r.deployment.id = "dep-1";
  r.deployment.endpoint = "ranker";
  r.deployment.canary_weight = 0.25;
  r.deployment.canary_model.path = "model.json";
  return r;
}

TEST(HookJsonTest, BodyCarriesHookDeploymentLastCheckAndMetadata) {
  core::HookRequest r = SampleRequest();
  json::value body = json::parse(HookBodyJson(r));
  EXPECT_EQ(body.at("hook").as_string(), "confirm_step");
  EXPECT_EQ(body.at("deployment").at("id").as_string(), "dep-1");
  EXPECT_EQ(body.at("deployment").at("endpoint").as_string(), "ranker");
  EXPECT_TRUE(body.at("last_check").is_null());
  EXPECT_EQ(body.at("metadata").at("team").as_string(), "ranking");
  EXPECT_EQ(body.at("metadata").at("ticket").as_string(), "ML-42");
  // The deployment is the API's: it reads back.
  auto d = ParseDeployment(body.at("deployment"), "deployment");
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->canary_weight, 0.25);

  core::HealthReport check;
  check.verdict = core::Verdict::kHealthy;
  check.reason = "all good";
  r.last_check = check;
  body = json::parse(HookBodyJson(r));
  EXPECT_EQ(body.at("last_check").at("verdict").as_string(), "healthy");

  // The policy's hook URLs reach a hook without credentials or query.
  r.deployment.policy.hooks[core::HookPoint::kOnRollback] =
      core::HookSpec{.url = "https://bot:pw@pager.local/x?token=secret"};
  r.deployment.policy.analysis = {core::HookSpec{.url = "http://eval.local/v?key=k"}};
  const std::string text = HookBodyJson(r);
  EXPECT_EQ(text.find("secret"), std::string::npos) << text;
  EXPECT_EQ(text.find("key=k"), std::string::npos) << text;
  body = json::parse(text);
  EXPECT_EQ(body.at("deployment").at("policy").at("hooks").at("on_rollback").at("url"),
            "https://pager.local/x");
}

TEST(HookJsonTest, RedactHookUrlDropsCredentialsAndQuery) {
  EXPECT_EQ(core::RedactHookUrl("https://u:p@h.local:8443/a/b?token=1#f"),
            "https://h.local:8443/a/b");
  EXPECT_EQ(core::RedactHookUrl("http://h.local"), "http://h.local");
  EXPECT_EQ(core::RedactHookUrl("http://h.local?x=1"), "http://h.local");
  EXPECT_EQ(core::RedactHookUrl("http://a@b@h.local/p"), "http://h.local/p");
}

TEST(HookJsonTest, ReadsTheThreeVerdicts) {
  auto a = ParseAnalysisAnswer(R"({"verdict": "breached", "reason": "auc dropped"})");
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->verdict, core::AnalysisVerdict::kBreached);
  EXPECT_EQ(a->reason, "auc dropped");
  a = ParseAnalysisAnswer(R"({"verdict": "healthy", "extra": 1})");
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->verdict, core::AnalysisVerdict::kHealthy);
  EXPECT_EQ(a->reason, "");
  a = ParseAnalysisAnswer(R"({"verdict": "inconclusive", "reason": null})");
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->verdict, core::AnalysisVerdict::kInconclusive);
}

TEST(HookJsonTest, BadAnswersAreRefusedNamingWhatIsWrong) {
  struct Case {
    const char* body;
    const char* error;
  } cases[] = {
      {"not json", "analysis answer: invalid JSON"},
      {"[1]", "analysis answer: expected an object"},
      {"{}", "analysis answer: verdict: missing"},
      {R"({"verdict": 1})", "analysis answer: verdict: expected a string"},
      {R"({"verdict": "ok"})", "analysis answer: verdict: 'ok' is not healthy"},
      {R"({"verdict": "healthy", "reason": 3})", "analysis answer: reason: expected a string"},
  };
  for (const Case& c : cases) {
    auto a = ParseAnalysisAnswer(c.body);
    ASSERT_FALSE(a) << c.body;
    EXPECT_NE(a.error().message().find(c.error), std::string::npos)
        << c.body << " -> " << a.error().message();
  }
}

TEST(HookJsonTest, HookPolicyRoundTripsAndBadHooksAreRefusedNamingTheField) {
  const char* text = R"({"hooks": {"confirm_step": {"url": "https://ci/x", "timeout": "5s",
      "retries": 2, "metadata": {"a": "b"}}, "on_rollback": {"url": "http://pager/x"}},
      "analysis": [{"url": "http://eval/x"}], "analysis_breaches_to_rollback": 3})";
  auto p = ParsePolicy(json::parse(text), "policy");
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_TRUE(p->hooks[core::HookPoint::kConfirmStep]);
  EXPECT_EQ(p->hooks[core::HookPoint::kConfirmStep]->timeout, std::chrono::seconds(5));
  EXPECT_EQ(p->hooks[core::HookPoint::kConfirmStep]->retries, 2);
  EXPECT_EQ(p->hooks[core::HookPoint::kConfirmStep]->metadata.at("a"), "b");
  EXPECT_EQ(p->hooks[core::HookPoint::kOnRollback]->timeout, std::chrono::seconds(10));
  EXPECT_EQ(p->hooks[core::HookPoint::kOnRollback]->retries, 1);
  EXPECT_FALSE(p->hooks[core::HookPoint::kPreRollout]);
  ASSERT_EQ(p->analysis.size(), 1u);
  EXPECT_EQ(p->analysis_breaches_to_rollback, 3);
  util::JsonWriter w;
  WritePolicy(w, *p);
  auto back = ParsePolicy(json::parse(w.Release()), "policy");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, *p);

  struct Case {
    const char* body;
    const char* error;
  } cases[] = {
      {R"({"hooks": {"confirm_step": {"url": "ftp://x/y"}}})",
       "body.policy.hooks.confirm_step.url: 'ftp://x/y' must be an http:// or https:// URL"},
      {R"({"hooks": {"pre_rollout": {"url": "http://x", "timeout": "31s"}}})",
       "body.policy.hooks.pre_rollout.timeout: 31s must be > 0 and at most 30s"},
      {R"({"hooks": {"pre_rollout": {"url": "http://x", "retries": 4}}})",
       "body.policy.hooks.pre_rollout.retries: 4 must be between 0 and 3"},
      {R"({"hooks": {"before_lunch": {"url": "http://x"}}})",
       "body.policy.hooks.before_lunch: unknown key"},
      {R"({"hooks": {"pre_rollout": {}}})", "body.policy.hooks.pre_rollout.url: missing"},
      {R"({"hooks": {"pre_rollout": {"url": "http://x", "metadata": {"a": 1}}}})",
       "body.policy.hooks.pre_rollout.metadata.a: expected a string"},
      {R"({"analysis": [{"url": "http://x"}, {"url": "x"}]})",
       "body.policy.analysis[1].url: 'x' must be an http:// or https:// URL"},
      {R"({"analysis": {"url": "http://x"}})", "body.policy.analysis: expected an array"},
      {R"({"analysis_breaches_to_rollback": 0})", "body.policy.analysis_breaches_to_rollback"},
  };
  for (const Case& c : cases) {
    auto bad = ParsePolicy(json::parse(c.body), "body.policy");
    ASSERT_FALSE(bad) << c.body;
    EXPECT_NE(bad.error().message().find(c.error), std::string::npos)
        << c.body << " -> " << bad.error().message();
  }
}

TEST(HookJsonTest, HookEventsAndAnalysisResultsRoundTrip) {
  core::DeploymentEvent e;
  e.seq = 3;
  e.deployment_id = "dep-1";
  e.kind = core::EventKind::kHook;
  e.reason = "confirm_step hook answered 503";
  e.actor = "controller";
  e.hook = core::HookCall{.hook = "confirm_step",
                          .url = "http://ci/x",
                          .status = 503,
                          .attempts = 2,
                          .elapsed_ms = 12,
                          .outcome = "refused"};
  auto back = ParseEvent(json::parse(EventJson(e)), "event");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, e);

  core::DeploymentEvent check;
  check.kind = core::EventKind::kCheck;
  core::HealthReport r;
  r.verdict = core::Verdict::kAnalysisBreached;
  r.analysis_breached = true;
  r.analysis = {{.url = "http://eval/x",
                 .verdict = core::AnalysisVerdict::kBreached,
                 .reason = "auc",
                 .status = 200}};
  check.check = r;
  const json::value written = json::parse(EventJson(check));
  EXPECT_EQ(written.at("check").at("verdict").as_string(), "analysis_breached");
  EXPECT_EQ(written.at("check").at("analysis").at(0).at("verdict").as_string(), "breached");
  auto back_check = ParseEvent(written, "event");
  ASSERT_TRUE(back_check) << back_check.error().message();
  EXPECT_EQ(back_check->check->analysis, r.analysis);
  EXPECT_TRUE(back_check->check->analysis_breached);
}

TEST(HookJsonTest, WaitingForAHookIsWrittenAndRead) {
  core::Deployment d;
  d.id = "dep-1";
  d.canary_model.path = "model.json";
  d.progress.waiting_hook = "confirm_step";
  d.progress.analysis_breaches = 1;
  const json::value v = json::parse(DeploymentJson(d));
  EXPECT_EQ(v.at("waiting_for").as_string(), "hook:confirm_step");
  auto back = ParseDeployment(v, "d");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->progress.waiting_hook, "confirm_step");
  EXPECT_EQ(back->progress.analysis_breaches, 1);
}

}  // namespace
}  // namespace mlcanary::codec
