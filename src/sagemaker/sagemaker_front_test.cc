// The inference front in SageMaker mode, end to end against the moto harness
// (test/aws/moto_harness.py, whose extension (e) answers InvokeEndpoint per
// TargetVariant): HTTP in through the gateway, the router's sticky pick, the
// signed InvokeEndpoint, the answer, the metrics, and the weights the
// controller sets through RouterMirror. After each test, no signing or
// validation violation.
#include <curl/curl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "aws/aws_client.h"
#include "core/system_clock.h"
#include "gateway/gateway.h"
#include "gateway/router_mirror.h"
#include "metrics/registry.h"
#include "moto_fixture.h"  // test/aws
#include "sagemaker/runtime_backend.h"
#include "sagemaker/sagemaker_traffic_control.h"

namespace mlcanary::sagemaker {
namespace {

using ::testing::HasSubstr;
using testing::MotoHarness;

namespace json = boost::json;

struct Answer {
  long status = 0;
  std::string body;
  json::value parsed;
};

std::size_t Collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

class FrontTest : public ::testing::Test {
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
    static int n = 0;
    ep_ = "front-" + std::to_string(++n);
    sagemaker_ = Client(aws::SageMakerService());
    autoscaling_ = Client(aws::AutoScalingService());
    http_ = curl_easy_init();
  }

  void TearDown() override {
    if (mirror_) mirror_->Stop();
    if (gateway_) gateway_->Shutdown();
    curl_easy_cleanup(http_);
    if (harness_ == nullptr) return;
    auto violations = harness_->Violations();
    ASSERT_TRUE(violations) << violations.error().ToString();
    EXPECT_EQ(*violations, "[]") << "requests not signed right or not valid per botocore";
  }

  static std::unique_ptr<aws::AwsClient> Client(const aws::ServiceInfo& service,
                                                std::size_t idle_handles = 4) {
    aws::ClientOptions o;
    o.max_idle_handles = idle_handles;
    return mlcanary::testing::MotoClient(*harness_, service, o);
  }

  json::object Call(std::string_view op, const json::object& request) {
    auto r = sagemaker_->CallJson(op, request);
    EXPECT_TRUE(r) << op << ": " << r.error().ToString();
    return r && r->is_object() ? r->get_object() : json::object{};
  }

  // ep_ serving prod and canary at these weights.
  void SeedEndpoint(double prod, double canary) {
    json::array pvs;
    for (const auto& [name, weight] : {std::pair{"prod", prod}, std::pair{"canary", canary}}) {
      const std::string model = ep_ + "-m-" + name;
      Call("CreateModel",
           {{"ModelName", model},
            {"ExecutionRoleArn", "arn:aws:iam::123456789012:role/mlcanary-sagemaker"},
            {"PrimaryContainer", json::object{{"Image",
                                               "123456789012.dkr.ecr.us-east-1."
                                               "amazonaws.com/recs:" +
                                                   model}}}});
      pvs.push_back(json::object{{"VariantName", name},
                                 {"ModelName", model},
                                 {"InstanceType", "ml.m5.large"},
                                 {"InitialInstanceCount", 1},
                                 {"InitialVariantWeight", weight}});
    }
    Call("CreateEndpointConfig",
         {{"EndpointConfigName", ep_ + "-cfg"}, {"ProductionVariants", pvs}});
    Call("CreateEndpoint", {{"EndpointName", ep_}, {"EndpointConfigName", ep_ + "-cfg"}});
  }

  // The front as apps/ wires it: SageMaker as the TrafficControl, mirrored into
  // the gateway's router, whose variants call InvokeEndpoint.
  void StartFront(RuntimeOptions options = {}) {
    options.threads = 4;
    options.retry_base = std::chrono::milliseconds(1);
    options.retry_cap = std::chrono::milliseconds(5);
    auto runtime = SageMakerRuntime::Create(Client(aws::SageMakerRuntimeService(), 4), options);
    ASSERT_TRUE(runtime) << runtime.error().ToString();
    runtime_ = *runtime;
    SageMakerOptions sm;
    sm.autoscaling.enabled = false;
    sm.sleep = [](core::Duration) {};
    auto traffic = SageMakerTrafficControl::Create(*sagemaker_, *autoscaling_, sm);
    ASSERT_TRUE(traffic) << traffic.error().ToString();
    traffic_ = std::move(*traffic);
    registry_ = std::make_unique<metrics::MetricsRegistry>(clock_);
    gateway::GatewayOptions g;
    g.listen = "127.0.0.1:0";
    g.threads = 2;
    gateway_ = std::make_unique<gateway::Gateway>(
        g, *registry_,
        [](const core::ModelSpec&) -> core::Result<std::unique_ptr<models::ModelBackend>> {
          return core::ValidationError("no local models in the SageMaker front");
        });
    mirror_ = std::make_unique<gateway::RouterMirror>(
        *traffic_, gateway_->router(),
        gateway::RouterMirrorOptions{
            .make_backend =
                [this](const std::string& endpoint, const core::Variant& v) {
                  return runtime_->Backend(endpoint, v.name);
                },
            .log = [this](std::string_view line) { log_.emplace_back(line); }});
    ASSERT_TRUE(mirror_->Follow(ep_));
    ASSERT_TRUE(gateway_->Start());
  }

  Answer Post(const std::string& body, const std::string& target_variant = "") {
    const std::string url = "http://127.0.0.1:" + std::to_string(gateway_->port()) +
                            "/v1/endpoints/" + ep_ + "/invocations";
    Answer a;
    curl_easy_reset(http_);
    curl_easy_setopt(http_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(http_, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(http_, CURLOPT_WRITEFUNCTION, &Collect);
    curl_easy_setopt(http_, CURLOPT_WRITEDATA, &a.body);
    curl_easy_setopt(http_, CURLOPT_TIMEOUT_MS, 20000L);
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    if (!target_variant.empty()) {
      headers = curl_slist_append(headers,
                                  ("X-Amzn-SageMaker-Target-Variant: " + target_variant).c_str());
    }
    curl_easy_setopt(http_, CURLOPT_HTTPHEADER, headers);
    const CURLcode rc = curl_easy_perform(http_);
    curl_slist_free_all(headers);
    EXPECT_EQ(rc, CURLE_OK) << curl_easy_strerror(rc);
    curl_easy_getinfo(http_, CURLINFO_RESPONSE_CODE, &a.status);
    boost::system::error_code ec;
    a.parsed = json::parse(a.body, ec);
    return a;
  }

  static std::string Body(const std::string& user, float a = 1, float b = 2) {
    return R"({"user_id":")" + user + R"(","features":[)" + std::to_string(a) + "," +
           std::to_string(b) + "]}";
  }

  static std::string VariantOf(const Answer& a) {
    if (!a.parsed.is_object() || !a.parsed.as_object().contains("variant")) return "";
    return std::string(a.parsed.at("variant").as_string());
  }

  // Every InvokeEndpoint the harness saw since its last Reset, in order.
  std::vector<json::object> Invocations() {
    auto requests = harness_->Requests();
    EXPECT_TRUE(requests) << requests.error().ToString();
    std::vector<json::object> out;
    if (!requests) return out;
    const json::value parsed = json::parse(*requests);
    for (const json::value& r : parsed.as_array()) {
      const json::value* op = r.as_object().if_contains("operation");
      if (op != nullptr && op->is_string() && op->get_string() == "InvokeEndpoint") {
        out.push_back(r.as_object());
      }
    }
    return out;
  }

  std::uint64_t Recorded(std::string_view variant, std::uint64_t metrics::VariantTotals::*field) {
    for (const auto& t : registry_->Totals()) {
      if (t.endpoint == ep_ && t.variant == variant) return t.*field;
    }
    return 0;
  }

  static MotoHarness* harness_;
  std::string ep_;
  core::SystemClock clock_;
  std::unique_ptr<aws::AwsClient> sagemaker_;
  std::unique_ptr<aws::AwsClient> autoscaling_;
  std::shared_ptr<SageMakerRuntime> runtime_;
  std::unique_ptr<SageMakerTrafficControl> traffic_;
  std::unique_ptr<metrics::MetricsRegistry> registry_;
  std::unique_ptr<gateway::Gateway> gateway_;
  std::unique_ptr<gateway::RouterMirror> mirror_;
  std::vector<std::string> log_;
  CURL* http_ = nullptr;
};

MotoHarness* FrontTest::harness_ = nullptr;

TEST_F(FrontTest, AnswersPredictionsAndVariantAndSendsTheTargetVariant) {
  SeedEndpoint(0.5, 0.5);
  ASSERT_TRUE(harness_->SetRuntimeVariant(ep_, "canary", 0, 2.0));
  StartFront();
  std::set<std::string> seen;
  std::vector<std::string> answered;
  for (int u = 0; u < 30; ++u) {
    const Answer a = Post(Body("user-" + std::to_string(u), 1.5f, 2.0f));
    ASSERT_EQ(a.status, 200) << a.body;
    const std::string variant = VariantOf(a);
    seen.insert(variant);
    answered.push_back(variant);
    // The harness's model for the variant answered: canary doubles the sum.
    const double want = variant == "canary" ? 7.0 : 3.5;
    EXPECT_DOUBLE_EQ(a.parsed.at("predictions").as_array().at(0).to_number<double>(), want)
        << a.body;
  }
  EXPECT_EQ(seen, (std::set<std::string>{"prod", "canary"}));
  // Each call named the variant the router picked, in the header botocore knows.
  const std::vector<json::object> calls = Invocations();
  ASSERT_EQ(calls.size(), 30u);
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const json::object& c = calls[i];
    const json::object& params = c.at("params").as_object();
    EXPECT_EQ(params.at("EndpointName").as_string(), ep_);
    ASSERT_TRUE(params.contains("TargetVariant")) << json::serialize(c);
    EXPECT_EQ(params.at("TargetVariant").as_string(), answered[i]);
    EXPECT_EQ(params.at("ContentType").as_string(), "text/csv");
    EXPECT_TRUE(c.at("signature_ok").as_bool());
  }
  // Recorded per variant, as in the embedded mode (/metrics, dashboard).
  EXPECT_EQ(Recorded("prod", &metrics::VariantTotals::invocations) +
                Recorded("canary", &metrics::VariantTotals::invocations),
            30u);
  EXPECT_GT(Recorded("canary", &metrics::VariantTotals::invocations), 0u);
}

TEST_F(FrontTest, UsersStayOnTheirVariant) {
  SeedEndpoint(0.5, 0.5);
  ASSERT_TRUE(harness_->SetRuntimeVariant(ep_, "canary", 0, 2.0));
  StartFront();
  for (int u = 0; u < 20; ++u) {
    const std::string user = "sticky-" + std::to_string(u);
    const std::string first = VariantOf(Post(Body(user)));
    ASSERT_FALSE(first.empty());
    for (int i = 0; i < 3; ++i) {
      // The same variant, and SageMaker's model of that variant answered (canary
      // doubles): SageMaker's own per-request split would mix them.
      const Answer a = Post(Body(user));
      EXPECT_EQ(VariantOf(a), first) << user;
      EXPECT_DOUBLE_EQ(a.parsed.at("predictions").as_array().at(0).to_number<double>(),
                       first == "canary" ? 6.0 : 3.0)
          << user;
    }
  }
  EXPECT_EQ(Invocations().size(), 80u);
}

TEST_F(FrontTest, ClientTargetVariantIsHonoured) {
  SeedEndpoint(1.0, 0.0);
  StartFront();
  const Answer a = Post(Body("anyone"), "canary");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(VariantOf(a), "canary");
  const std::vector<json::object> calls = Invocations();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].at("params").at("TargetVariant").as_string(), "canary");
}

TEST_F(FrontTest, BadInputIsRefusedNamingTheFieldWithoutCallingSageMaker) {
  SeedEndpoint(1.0, 0.0);
  StartFront();
  for (const auto& [body, field] : std::vector<std::pair<std::string, std::string>>{
           {R"({"user_id":"u","features":"x"})", "features"},
           {R"({"user_id":"u","features":[]})", "features"},
           {R"({"user_id":[1],"features":[1]})", "user_id"},
           {R"(not json)", "JSON"}}) {
    const Answer a = Post(body);
    EXPECT_EQ(a.status, 400) << body;
    EXPECT_THAT(a.body, HasSubstr(field)) << body;
  }
  EXPECT_TRUE(Invocations().empty());
}

// SageMaker's errors, each row: what the runtime answers (count times in a row),
// and what the client gets. Throttles and unavailability are retried once
// (max_attempts 2): one fault heals, two do not.
TEST_F(FrontTest, ErrorMappingTable) {
  SeedEndpoint(1.0, 0.0);
  StartFront();
  struct Row {
    int count;
    int status;
    std::string code;
    std::string message;
    long want;
    std::string want_text;
  };
  const std::vector<Row> rows = {
      {1, 424, "ModelError", "Received client error (400) from primary with message \"bad row\"",
       502, "bad row"},
      {1, 400, "ValidationError", "Body is too large", 400, "Body is too large"},
      {1, 400, "ThrottlingException", "Rate exceeded", 200, ""},
      {2, 400, "ThrottlingException", "Rate exceeded", 429, "after 2 attempts"},
      {2, 429, "ModelNotReadyException", "not ready", 429, "not ready"},
      {1, 503, "ServiceUnavailable", "try later", 200, ""},
      {2, 503, "ServiceUnavailable", "try later", 503, "after 2 attempts"},
      {2, 500, "InternalFailure", "oops", 503, "InternalFailure"},
  };
  for (const Row& row : rows) {
    ASSERT_TRUE(harness_->Reset());
    ASSERT_TRUE(
        harness_->InjectFault("InvokeEndpoint", row.count, row.status, row.code, row.message));
    const Answer a = Post(Body("u1"));
    EXPECT_EQ(a.status, row.want) << row.code << " x" << row.count << ": " << a.body;
    if (!row.want_text.empty()) {
      EXPECT_THAT(a.body, HasSubstr(row.want_text)) << row.code;
    }
    EXPECT_EQ(VariantOf(a).empty(), a.status != 200) << a.body;
    const std::size_t attempts = Invocations().size();
    const bool retried = row.code != "ModelError" && row.code != "ValidationError";
    EXPECT_EQ(attempts, retried ? 2u : 1u) << row.code << " x" << row.count;
  }
  // Each answer was recorded on the variant, errors by class.
  EXPECT_EQ(Recorded("prod", &metrics::VariantTotals::invocations), rows.size());
  EXPECT_EQ(Recorded("prod", &metrics::VariantTotals::errors_4xx), 3u);
  EXPECT_EQ(Recorded("prod", &metrics::VariantTotals::errors_5xx), 3u);
}

TEST_F(FrontTest, EachVariantHasItsOwnTimeout) {
  SeedEndpoint(0.5, 0.5);
  ASSERT_TRUE(harness_->SetRuntimeVariant(ep_, "canary", 1500));
  RuntimeOptions o;
  o.timeout = std::chrono::seconds(5);
  o.variant_timeouts["canary"] = std::chrono::milliseconds(200);
  StartFront(o);
  const auto start = std::chrono::steady_clock::now();
  const Answer slow = Post(Body("u"), "canary");
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(slow.status, 504) << slow.body;
  EXPECT_THAT(slow.body, HasSubstr("200ms"));
  EXPECT_LT(took, std::chrono::milliseconds(1500));
  EXPECT_EQ(Invocations().size(), 1u);  // a timeout is not retried
  const Answer fast = Post(Body("u"), "prod");
  EXPECT_EQ(fast.status, 200) << fast.body;
  EXPECT_EQ(Recorded("canary", &metrics::VariantTotals::errors_5xx), 1u);
}

TEST_F(FrontTest, WeightsFollowSetWeightsAndUsersOnTheCanaryStayAsItGrows) {
  SeedEndpoint(0.8, 0.2);
  StartFront();
  std::map<std::string, std::string> before;
  for (int u = 0; u < 60; ++u) {
    const std::string user = "grow-" + std::to_string(u);
    before[user] = VariantOf(Post(Body(user)));
  }
  // The controller moves the canary to 60% through the mirror: the front
  // follows at once (no refresh), and the canary's users stay on it.
  ASSERT_TRUE(mirror_->SetWeights(ep_, {{"canary", 0.6}, {"prod", 0.4}}));
  int canary_before = 0;
  int canary_after = 0;
  for (const auto& [user, variant] : before) {
    const std::string now = VariantOf(Post(Body(user)));
    if (variant == "canary") {
      EXPECT_EQ(now, "canary") << user;
    }
    canary_before += variant == "canary" ? 1 : 0;
    canary_after += now == "canary" ? 1 : 0;
  }
  EXPECT_GT(canary_after, canary_before);
  // Rollback through the mirror: everyone on prod.
  ASSERT_TRUE(mirror_->SetWeights(ep_, {{"canary", 0.0}, {"prod", 1.0}}));
  for (const auto& [user, variant] : before) EXPECT_EQ(VariantOf(Post(Body(user))), "prod");
  // A change made elsewhere shows after a refresh.
  Call("UpdateEndpointWeightsAndCapacities",
       {{"EndpointName", ep_},
        {"DesiredWeightsAndCapacities",
         json::array{json::object{{"VariantName", "canary"}, {"DesiredWeight", 1.0}},
                     json::object{{"VariantName", "prod"}, {"DesiredWeight", 0.0}}}}});
  ASSERT_TRUE(mirror_->Refresh());
  for (const auto& [user, variant] : before) EXPECT_EQ(VariantOf(Post(Body(user))), "canary");
  EXPECT_TRUE(log_.empty()) << log_.front();
}

}  // namespace
}  // namespace mlcanary::sagemaker
