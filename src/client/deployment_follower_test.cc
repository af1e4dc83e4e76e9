// Tests of the typed client calls and of DeploymentFollower against a real
// HTTP server that answers as the control API does, from a script.
#include "client/deployment_follower.h"

#include <gtest/gtest.h>

#include <deque>
#include <mutex>
#include <string>

#include "client/api_client.h"
#include "codec/domain_json.h"
#include "http/http_server.h"

namespace mlcanary::client {
namespace {

using core::DeploymentState;

core::Deployment Deployment(DeploymentState state) {
  core::Deployment d;
  d.id = "dep-1";
  d.endpoint = "recs";
  d.production_variant = "production";
  d.canary_variant = "canary";
  d.state = state;
  d.canary_weight = 0.1;
  d.canary_model.path = "recs-v2.json";
  return d;
}

core::DeploymentEvent Transition(std::int64_t seq, DeploymentState from, DeploymentState to) {
  core::DeploymentEvent e;
  e.seq = seq;
  e.deployment_id = "dep-1";
  e.kind = core::EventKind::kTransition;
  e.from_state = from;
  e.to_state = to;
  e.reason = "step " + std::to_string(seq);
  e.actor = "controller";
  return e;
}

std::string Events(std::initializer_list<core::DeploymentEvent> events) {
  std::string out = R"({"deployment_id":"dep-1","events":[)";
  for (const auto& e : events) out += (out.back() == '[' ? "" : ",") + codec::EventJson(e);
  return out + "]}";
}

// Answers each request with the next scripted body (200), recording the targets.
class ScriptedServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<http::HttpServer>(
        http::ServerOptions{.log = [](http::LogLevel, std::string_view) {}},
        [this](const http::Request& r) {
          std::lock_guard lock(mu_);
          targets_.push_back(r.target);
          if (answers_.empty()) return http::ErrorResponse(500, "Internal", "script ended");
          std::string body = std::move(answers_.front());
          answers_.pop_front();
          return http::JsonResponse(200, std::move(body));
        });
    ASSERT_TRUE(server_->Start());
    api_ = std::make_unique<ApiClient>(
        ClientOptions{.base_url = "http://127.0.0.1:" + std::to_string(server_->port())});
  }

  void Answer(std::string body) {
    std::lock_guard lock(mu_);
    answers_.push_back(std::move(body));
  }
  std::vector<std::string> Targets() {
    std::lock_guard lock(mu_);
    return targets_;
  }

  std::unique_ptr<http::HttpServer> server_;
  std::unique_ptr<ApiClient> api_;
  std::mutex mu_;
  std::deque<std::string> answers_;
  std::vector<std::string> targets_;
};

// The final transition recorded between the read of the events and the read of
// the deployment is in the round that ends it (deploy --wait printed "final:
// COMPLETED" without it when it landed there).
TEST_F(ScriptedServerTest, FinalRoundHasTheTransitionThatLandedBetweenTheReads) {
  using S = DeploymentState;
  Answer(Events({Transition(1, S::kPending, S::kInProgress)}));
  Answer(codec::DeploymentJson(Deployment(S::kInProgress)));
  Answer(Events({}));
  Answer(codec::DeploymentJson(Deployment(S::kCompleted)));
  Answer(Events({Transition(2, S::kInProgress, S::kCompleted)}));
  DeploymentFollower follower(*api_, "dep-1");

  auto first = follower.Next();
  ASSERT_TRUE(first) << first.error().ToString();
  ASSERT_EQ(first->events.size(), 1u);
  EXPECT_FALSE(first->final());

  auto last = follower.Next();
  ASSERT_TRUE(last) << last.error().ToString();
  EXPECT_TRUE(last->final());
  ASSERT_EQ(last->events.size(), 1u);
  EXPECT_EQ(last->events[0].value.to_state, S::kCompleted);
  EXPECT_EQ(last->events[0].json.at("reason").as_string(), "step 2");
  EXPECT_EQ(Targets(), (std::vector<std::string>{
                           "/v1/deployments/dep-1/events", "/v1/deployments/dep-1",
                           "/v1/deployments/dep-1/events?after=1", "/v1/deployments/dep-1",
                           "/v1/deployments/dep-1/events?after=1"}));
}

// A failed read of the deployment loses no event: the next round shows them.
TEST_F(ScriptedServerTest, EventsOfAFailedRoundComeAgain) {
  using S = DeploymentState;
  Answer(Events({Transition(1, S::kPending, S::kInProgress)}));
  Answer("not json");
  Answer(Events({Transition(1, S::kPending, S::kInProgress)}));
  Answer(codec::DeploymentJson(Deployment(S::kInProgress)));
  DeploymentFollower follower(*api_, "dep-1");
  EXPECT_FALSE(follower.Next());
  auto again = follower.Next();
  ASSERT_TRUE(again) << again.error().ToString();
  ASSERT_EQ(again->events.size(), 1u);
  EXPECT_EQ(Targets().at(2), "/v1/deployments/dep-1/events");
}

// The JSON printed by --output json is the server's, keys the type lacks included.
TEST_F(ScriptedServerTest, TypedAnswerKeepsTheServersJson) {
  std::string body = codec::DeploymentJson(Deployment(DeploymentState::kInProgress));
  body.insert(body.size() - 1, R"(,"last_check_error":null)");
  Answer(body);
  auto d = api_->GetDeployment("dep 1");
  ASSERT_TRUE(d) << d.error().ToString();
  EXPECT_EQ(d->value, Deployment(DeploymentState::kInProgress));
  EXPECT_TRUE(d->json.at("last_check_error").is_null());
  EXPECT_EQ(Targets().at(0), "/v1/deployments/dep%201");
}

TEST_F(ScriptedServerTest, ListsKeepEachElementsJson) {
  const std::string d = codec::DeploymentJson(Deployment(DeploymentState::kPending));
  Answer(R"({"deployments":[)" + d + "," + d + "]}");
  auto list = api_->ListDeployments({.endpoint = "recs", .state = "IN PROGRESS"});
  ASSERT_TRUE(list) << list.error().ToString();
  ASSERT_EQ(list->value.size(), 2u);
  EXPECT_EQ(list->value[1].json.at("id").as_string(), "dep-1");
  EXPECT_EQ(list->json.at("deployments").as_array().size(), 2u);
  EXPECT_EQ(Targets().at(0), "/v1/deployments?endpoint=recs&state=IN%20PROGRESS");
}

// An answer that is JSON but not a deployment names the request and the key.
TEST_F(ScriptedServerTest, UnreadableAnswerIsAnInternalErrorNamingTheKey) {
  Answer(R"({"id":"dep-1"})");
  auto d = api_->Act("dep-1", "pause");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code(), core::ErrorCode::kInternal);
  EXPECT_EQ(d.error().message(),
            "the server's answer to POST /v1/deployments/dep-1/pause is not what was expected: "
            "answer.endpoint: missing");
}

}  // namespace
}  // namespace mlcanary::client
