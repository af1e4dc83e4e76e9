// HttpHookCaller against a real local HTTP receiver (http/testing/receiver.py).
#include "hooks/http_hook_caller.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "http/testing/receiver.h"

namespace mlcanary::hooks {
namespace {

using http::testing::Receiver;
using http::testing::ReceiverOptions;

core::HookRequest Request(const std::string& hook, const std::string& url) {
  core::HookRequest r;
  r.hook = hook;
  r.spec.url = url;
  r.spec.timeout = std::chrono::seconds(5);
  r.spec.retries = 0;
  r.spec.metadata = {{"ticket", "ML-7"}};
  r.deployment.id = "dep-1";
  r.deployment.endpoint = "recs";
  r.deployment.canary_model.path = "m.json";
  return r;
}

std::unique_ptr<HttpHookCaller> Caller(std::vector<core::Duration>* waits = nullptr) {
  HttpHookCallerOptions o;
  o.sleep = [waits](core::Duration d) {
    if (waits != nullptr) waits->push_back(d);
  };
  auto caller = HttpHookCaller::Create(std::move(o));
  EXPECT_TRUE(caller);
  return std::move(*caller);
}

TEST(HttpHookCallerTest, PostsTheBodyAndReportsTheStatus) {
  Receiver receiver;
  ASSERT_GT(receiver.port(), 0);
  auto caller = Caller();
  const core::HookResponse r = caller->Call(Request("confirm_step", receiver.url("/confirm")));
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.attempts, 1);
  const auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].at("path").as_string(), "/confirm");
  EXPECT_EQ(requests[0].at("content_type").as_string(), "application/json");
  const boost::json::value body = boost::json::parse(requests[0].at("body").as_string());
  EXPECT_EQ(body.at("hook").as_string(), "confirm_step");
  EXPECT_EQ(body.at("deployment").at("id").as_string(), "dep-1");
  EXPECT_TRUE(body.at("last_check").is_null());
  EXPECT_EQ(body.at("metadata").at("ticket").as_string(), "ML-7");
}

TEST(HttpHookCallerTest, ANon2xxAnswerIsNotOkAndA4xxIsNotRetried) {
  Receiver receiver({.status = 409});
  auto caller = Caller();
  core::HookRequest request = Request("confirm_step", receiver.url());
  request.spec.retries = 3;
  const core::HookResponse r = caller->Call(request);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_TRUE(r.error.empty()) << r.error;
}

TEST(HttpHookCallerTest, A5xxIsRetriedUpToRetriesWithBackoff) {
  Receiver receiver({.fail_first = 2, .fail_status = 503});
  std::vector<core::Duration> waits;
  auto caller = Caller(&waits);
  core::HookRequest request = Request("pre_complete", receiver.url());
  request.spec.retries = 3;
  const core::HookResponse r = caller->Call(request);
  EXPECT_TRUE(r.ok()) << r.status << " " << r.error;
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(receiver.requests().size(), 3u);
  ASSERT_EQ(waits.size(), 2u);
  EXPECT_LT(waits[0], waits[1]);

  Receiver failing({.fail_first = 100, .fail_status = 500});
  request.spec.url = failing.url();
  request.spec.retries = 1;
  const core::HookResponse f = caller->Call(request);
  EXPECT_FALSE(f.ok());
  EXPECT_EQ(f.status, 500);
  EXPECT_EQ(f.attempts, 2);
}

// Every call is counted by endpoint, hook and outcome (for /metrics).
TEST(HttpHookCallerTest, CountsCallsByEndpointHookAndOutcome) {
  Receiver ok;
  Receiver refusing({.status = 409});
  Receiver voting({.body = R"({"verdict": "breached"})"});
  Receiver garbled({.body = R"({"verdict": "maybe"})"});
  auto caller = Caller();
  (void)caller->Call(Request("confirm_step", ok.url()));
  (void)caller->Call(Request("confirm_step", ok.url()));
  (void)caller->Call(Request("confirm_step", refusing.url()));
  (void)caller->Call(Request("pre_rollout", "http://127.0.0.1:1/hook"));
  (void)caller->Call(Request(std::string(core::kAnalysisHookName), voting.url()));
  (void)caller->Call(Request(std::string(core::kAnalysisHookName), garbled.url()));
  core::HookRequest other = Request("confirm_step", ok.url());
  other.deployment.endpoint = "search";
  (void)caller->Call(other);
  std::vector<std::string> seen;
  for (const core::HookCallCount& c : caller->Counts()) {
    seen.push_back(c.endpoint + " " + c.hook + " " + c.outcome + " " + std::to_string(c.calls));
    EXPECT_GE(c.seconds, 0);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "recs analysis breached 1", "recs analysis invalid_answer 1",
                      "recs confirm_step ok 2", "recs confirm_step refused 1",
                      "recs pre_rollout unreachable 1", "search confirm_step ok 1"}));
}

TEST(HttpHookCallerTest, NoAnswerIsAnErrorRetriedNeverAThrow) {
  // Port 1 (tcpmux): nothing listens there, the connection is refused.
  const std::string url = "http://127.0.0.1:1/hook";
  auto caller = Caller();
  core::HookRequest request = Request("pre_rollout", url);
  request.spec.retries = 2;
  const core::HookResponse r = caller->Call(request);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_FALSE(r.error.empty());
}

TEST(HttpHookCallerTest, ATimeoutIsNoAnswer) {
  Receiver slow({.delay_s = 3});
  auto caller = Caller();
  core::HookRequest request = Request("confirm_step", slow.url());
  request.spec.timeout = std::chrono::milliseconds(200);
  const core::HookResponse r = caller->Call(request);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
}

TEST(HttpHookCallerTest, ReadsAnAnalysisVerdict) {
  Receiver receiver({.body = R"({"verdict": "breached", "reason": "AUC -4%"})"});
  auto caller = Caller();
  const core::HookResponse r = caller->Call(Request("analysis", receiver.url()));
  EXPECT_TRUE(r.ok()) << r.error;
  ASSERT_TRUE(r.verdict);
  EXPECT_EQ(*r.verdict, core::AnalysisVerdict::kBreached);
  EXPECT_EQ(r.verdict_reason, "AUC -4%");
}

TEST(HttpHookCallerTest, ABadVerdictBodyIsAnErrorNamingWhatIsWrong) {
  Receiver receiver({.body = R"({"verdict": "great"})"});
  auto caller = Caller();
  const core::HookResponse r = caller->Call(Request("analysis", receiver.url()));
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.verdict);
  EXPECT_NE(r.error.find("verdict: 'great' is not healthy, breached or inconclusive"),
            std::string::npos)
      << r.error;
}

}  // namespace
}  // namespace mlcanary::hooks
