// End-to-end tests of the Gateway over real sockets on 127.0.0.1, port 0.
#include "gateway/gateway.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <future>
#include <map>
#include <thread>

#include "core/clock.h"
#include "metrics/prediction_layout.h"
#include "metrics/registry.h"
#include "models/backend_factory.h"
#include "models/testing/fake_model_server.h"
#include "models/testing/xgboost_trainer.h"

namespace mlcanary::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct Reply {
  int status = 0;
  std::string body;
  http::fields headers;
  bool keep_alive = false;
};

// A blocking HTTP/1.1 client on one keep-alive connection.
class Client {
 public:
  explicit Client(std::uint16_t port) : socket_(ioc_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
  }
  Reply Send(http::verb verb, std::string target, std::string body = {},
             std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::request<http::string_body> request{verb, target, 11};
    request.set(http::field::host, "127.0.0.1");
    for (auto& [k, v] : headers) request.set(k, v);
    request.body() = std::move(body);
    request.prepare_payload();
    http::write(socket_, request);
    http::response<http::string_body> response;
    http::read(socket_, buffer_, response);
    Reply reply;
    reply.status = response.result_int();
    reply.body = response.body();
    reply.keep_alive = response.keep_alive();
    for (const auto& f : response) reply.headers.set(f.name_string(), f.value());
    return reply;
  }
  Reply Post(std::string target, std::string body,
             std::vector<std::pair<std::string, std::string>> headers = {}) {
    return Send(http::verb::post, std::move(target), std::move(body), std::move(headers));
  }
  tcp::socket& socket() { return socket_; }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

std::string Features(int n, float value = 0.5f) {
  std::string out = R"({"features": [)";
  for (int i = 0; i < n; ++i) out += (i ? "," : "") + std::to_string(value);
  return out + "]}";
}

class GatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     ("gateway_test_" + std::to_string(::getpid())));
    std::filesystem::create_directories(*dir_);
    ASSERT_TRUE(models::testing::TrainSyntheticModel((*dir_ / "v1.json").string(),
                                                     {.trees = 5, .seed = 1}));
    ASSERT_TRUE(
        models::testing::TrainSyntheticModel((*dir_ / "v2.ubj").string(), {.trees = 5, .seed = 2}));
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }

  GatewayTest() : clock_(core::Timestamp{}), registry_(clock_) {}

  // Starts a gateway with endpoint "recs": production (v1.json) 0.9, canary (v2.ubj) 0.1.
  void StartGateway(GatewayOptions options = {}) {
    options.listen = "127.0.0.1:0";
    if (options.threads == 0) options.threads = 2;
    gateway_ = std::make_unique<Gateway>(options, registry_, models::MakeModelBackendFactory());
    core::Endpoint endpoint;
    endpoint.name = "recs";
    endpoint.variants = {Xgb("production", 0.9, "v1.json"), Xgb("canary", 0.1, "v2.ubj")};
    ASSERT_TRUE(gateway_->router().AddEndpoint(endpoint));
    ASSERT_TRUE(gateway_->Start());
  }

  static core::Variant Xgb(std::string name, double weight, std::string file) {
    core::Variant v;
    v.name = std::move(name);
    v.weight = weight;
    v.model.kind = core::ModelKind::kXgboost;
    v.model.path = (*dir_ / file).string();
    return v;
  }
  static core::Variant Http(std::string name, std::string url, int timeout_ms = 200) {
    core::Variant v;
    v.name = std::move(name);
    v.model.kind = core::ModelKind::kHttp;
    v.model.url = std::move(url);
    v.model.timeout = core::Duration(timeout_ms);
    return v;
  }

  // Puts all of recs' traffic on a new http variant "remote".
  void RouteAllToHttp(const std::string& url, int timeout_ms = 200) {
    ASSERT_TRUE(gateway_->router().CreateVariant("recs", Http("remote", url, timeout_ms)));
    ASSERT_TRUE(gateway_->router().SetWeights(
        "recs", {{"remote", 1.0}, {"production", 0.0}, {"canary", 0.0}}));
  }

  metrics::VariantTotals TotalsOf(const std::string& variant) {
    for (auto& t : registry_.Totals()) {
      if (t.endpoint == "recs" && t.variant == variant) return t;
    }
    return {};
  }

  static std::filesystem::path* dir_;
  core::ManualClock clock_;
  metrics::MetricsRegistry registry_;
  std::unique_ptr<Gateway> gateway_;
};
std::filesystem::path* GatewayTest::dir_ = nullptr;

TEST_F(GatewayTest, PingAnswers200WhenEveryEndpointHasAReadyVariant) {
  StartGateway();
  Client client(gateway_->port());
  auto reply = client.Send(http::verb::get, "/ping");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, R"({"status":"ok"})");
}

TEST_F(GatewayTest, InvocationAnswersPredictionsVariantAndModel) {
  StartGateway();
  Client client(gateway_->port());
  auto reply =
      client.Post("/v1/endpoints/recs/invocations",
                  R"({"user_id": "u1", "features": [0.9, 0.1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const std::string variant(reply.headers["X-Mlcanary-Variant"]);
  ASSERT_TRUE(variant == "production" || variant == "canary") << variant;
  EXPECT_NE(reply.body.find(R"("variant":")" + variant + "\""), std::string::npos) << reply.body;
  EXPECT_NE(reply.body.find(variant == "production" ? R"("model":"v1")" : R"("model":"v2")"),
            std::string::npos)
      << reply.body;
  EXPECT_TRUE(reply.body.starts_with(R"({"predictions":[0.)")) << reply.body;
  EXPECT_EQ(reply.headers[http::field::content_type], "application/json");
  EXPECT_TRUE(reply.keep_alive);
}

TEST_F(GatewayTest, BatchBodiesGetOnePredictionPerInstance) {
  StartGateway();
  Client client(gateway_->port());
  auto reply = client.Post("/v1/endpoints/recs/invocations",
                           R"({"instances": [{"features": [1,1,1,1,1,1,1,1]},
                                             {"features": [0,0,0,0,0,0,0,0]}]})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(std::count(reply.body.begin(), reply.body.end(), ','), 3) << reply.body;
}

TEST_F(GatewayTest, SageMakerPathHonoursTheTargetVariant) {
  StartGateway();
  Client client(gateway_->port());
  for (int i = 0; i < 20; ++i) {
    auto reply = client.Post("/endpoints/recs/invocations", Features(8),
                             {{"X-Amzn-SageMaker-Target-Variant", "canary"}});
    ASSERT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(reply.headers["x-Amzn-Invoked-Production-Variant"], "canary");
  }
  auto unknown = client.Post("/endpoints/recs/invocations", Features(8),
                             {{"X-Amzn-SageMaker-Target-Variant", "ghost"}});
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find(R"("code":"NotFound")"), std::string::npos);
}

// Issue 14: every answered row's prediction reaches the variant's window
// (the divergence check's input), in the bucket of the value answered; an
// error answer records none.
TEST_F(GatewayTest, AnsweredPredictionsAreRecordedInTheVariantsWindow) {
  StartGateway();
  Client client(gateway_->port());
  std::vector<float> answered;
  for (int i = 0; i < 4; ++i) {
    auto reply = client.Post(
        "/endpoints/recs/invocations",
        R"({"instances": [{"features": [1,1,1,1,1,1,1,1]}, {"features": [0,0,0,0,0,0,0,0]}]})",
        {{"X-Amzn-SageMaker-Target-Variant", "canary"}});
    ASSERT_EQ(reply.status, 200) << reply.body;
    // {"predictions":[a,b],...}
    const std::size_t open = reply.body.find('[');
    const std::size_t comma = reply.body.find(',', open);
    const std::size_t close = reply.body.find(']', open);
    answered.push_back(std::stof(reply.body.substr(open + 1, comma - open - 1)));
    answered.push_back(std::stof(reply.body.substr(comma + 1, close - comma - 1)));
  }
  auto bad = client.Post("/endpoints/recs/invocations", Features(7),
                         {{"X-Amzn-SageMaker-Target-Variant", "canary"}});
  ASSERT_EQ(bad.status, 400);
  clock_.Advance(std::chrono::seconds(10));
  auto windows = registry_.Snapshot("recs", core::Timestamp{}, clock_.Now());
  ASSERT_TRUE(windows);
  const core::WindowMetrics& canary = windows->at("canary");
  EXPECT_EQ(canary.invocations, 5);
  EXPECT_EQ(canary.predictions, 8);
  EXPECT_EQ(canary.outputs_per_row, 1);
  std::map<double, std::int64_t> expected;
  for (float v : answered) ++expected[metrics::prediction_layout::BucketIndex(v)];
  std::map<double, std::int64_t> got;
  for (const core::ValueCount& b : canary.prediction_buckets) got[b.value] += b.count;
  EXPECT_EQ(got, expected);
  EXPECT_EQ(windows->at("production").predictions, 0);
}

TEST_F(GatewayTest, StickyUsersKeepTheirVariantOverHttp) {
  StartGateway();
  Client client(gateway_->port());
  for (int u = 0; u < 20; ++u) {
    const std::string body =
        R"({"user_id": "user-)" + std::to_string(u) + R"(", "features": [1,1,1,1,1,1,1,1]})";
    const std::string first(
        client.Post("/v1/endpoints/recs/invocations", body).headers["X-Mlcanary-Variant"]);
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(client.Post("/v1/endpoints/recs/invocations", body).headers["X-Mlcanary-Variant"],
                first);
    }
  }
}

TEST_F(GatewayTest, BadBodiesAre400WithAJsonError) {
  StartGateway();
  Client client(gateway_->port());
  const char* bodies[] = {
      R"({"features": [1, 2)",                  // malformed JSON
      R"({"user_id": "u"})",                    // missing features
      R"({"features": "nope"})",                // wrong type
      R"({"features": [1, "a"]})",              // wrong element type
      R"({"features": [1e39,1,1,1,1,1,1,1]})",  // non-finite as float
      R"({"features": [NaN,1,1,1,1,1,1,1]})",   // NaN is not JSON
  };
  for (const char* body : bodies) {
    auto reply = client.Post("/v1/endpoints/recs/invocations", body);
    EXPECT_EQ(reply.status, 400) << body;
    EXPECT_TRUE(reply.body.starts_with(R"({"error":{"code":"ValidationError","message":")"))
        << reply.body;
    EXPECT_TRUE(reply.keep_alive);
  }
  // None of these reached a variant.
  EXPECT_EQ(TotalsOf("production").invocations + TotalsOf("canary").invocations, 0u);
}

TEST_F(GatewayTest, WrongFeatureCountIs400CountedAgainstTheVariant) {
  StartGateway();
  Client client(gateway_->port());
  auto reply = client.Post("/v1/endpoints/recs/invocations", Features(7),
                           {{"X-Amzn-SageMaker-Target-Variant", "canary"}});
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(reply.body.find("expects 8 features, got 7"), std::string::npos) << reply.body;
  EXPECT_EQ(reply.headers["X-Mlcanary-Variant"], "canary");
  const auto canary = TotalsOf("canary");
  EXPECT_EQ(canary.invocations, 1u);
  EXPECT_EQ(canary.errors_4xx, 1u);
}

TEST_F(GatewayTest, UnknownEndpointAndPathAre404AndWrongMethodIs405) {
  StartGateway();
  Client client(gateway_->port());
  auto endpoint = client.Post("/v1/endpoints/nope/invocations", Features(8));
  EXPECT_EQ(endpoint.status, 404);
  EXPECT_NE(endpoint.body.find("endpoint 'nope' does not exist"), std::string::npos);
  EXPECT_EQ(client.Post("/v2/whatever", "{}").status, 404);
  EXPECT_EQ(client.Send(http::verb::get, "/v1/endpoints/recs/invocations").status, 405);
}

TEST_F(GatewayTest, HugeBodyIs413) {
  GatewayOptions options;
  options.max_body_bytes = 1024;
  StartGateway(options);
  Client client(gateway_->port());
  std::string body = R"({"features": [)" + std::string(4000, '1') + "]}";
  auto reply = client.Post("/v1/endpoints/recs/invocations", body);
  EXPECT_EQ(reply.status, 413);
  EXPECT_NE(reply.body.find(R"("code":"PayloadTooLarge")"), std::string::npos);
  EXPECT_FALSE(reply.keep_alive);
}

TEST_F(GatewayTest, ManyRequestsShareOneKeepAliveConnection) {
  StartGateway();
  Client client(gateway_->port());
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(client.Post("/v1/endpoints/recs/invocations", Features(8)).status, 200);
  }
  EXPECT_EQ(TotalsOf("production").invocations + TotalsOf("canary").invocations, 200u);
}

// A large request grows the connection's read buffer, which shrinks back
// before the next request: a request already received behind it (pipelined)
// survives the move, and the connection goes on serving.
TEST_F(GatewayTest, PipelinedRequestBehindALargeOneIsAnswered) {
  StartGateway();
  Client client(gateway_->port());
  std::string large = Features(8);
  large.insert(large.size() - 1, std::string(300 * 1024, ' '));
  const std::string small = Features(8);
  auto request = [](const std::string& body) {
    return "POST /v1/endpoints/recs/invocations HTTP/1.1\r\nHost: x\r\n"
           "Content-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  asio::write(client.socket(), asio::buffer(request(large) + request(small)));
  beast::flat_buffer buffer;
  for (int i = 0; i < 2; ++i) {
    http::response<http::string_body> reply;
    http::read(client.socket(), buffer, reply);
    EXPECT_EQ(reply.result_int(), 200) << i << ": " << reply.body();
    EXPECT_TRUE(reply.keep_alive()) << i;
  }
  EXPECT_EQ(client.Post("/v1/endpoints/recs/invocations", small).status, 200);
  EXPECT_EQ(TotalsOf("production").invocations + TotalsOf("canary").invocations, 3u);
}

TEST_F(GatewayTest, IdleConnectionIsClosedAfterTheHeaderTimeout) {
  GatewayOptions options;
  options.header_timeout = core::Duration(100);
  StartGateway(options);
  Client client(gateway_->port());
  ASSERT_EQ(client.Post("/v1/endpoints/recs/invocations", Features(8)).status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  char byte;
  beast::error_code ec;
  client.socket().read_some(asio::buffer(&byte, 1), ec);
  EXPECT_EQ(ec, asio::error::eof);
}

TEST_F(GatewayTest, AtTheConnectionCapNewConnectionsWaitUntilOneCloses) {
  GatewayOptions options;
  options.max_connections = 2;
  StartGateway(options);
  auto first = std::make_unique<Client>(gateway_->port());
  Client second(gateway_->port());
  ASSERT_EQ(first->Send(http::verb::get, "/ping").status, 200);
  ASSERT_EQ(second.Send(http::verb::get, "/ping").status, 200);
  // The third connects (the kernel's backlog holds it) but is not accepted.
  Client third(gateway_->port());
  std::atomic<int> status{0};
  std::thread waiting([&] { status = third.Send(http::verb::get, "/ping").status; });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(status.load(), 0);
  first.reset();  // closes: the gateway accepts the third
  waiting.join();
  EXPECT_EQ(status.load(), 200);
  EXPECT_EQ(second.Send(http::verb::get, "/ping").status, 200);
}

TEST_F(GatewayTest, SlowUpstreamIs504) {
  StartGateway();
  models::testing::FakeModelServer upstream;
  RouteAllToHttp(upstream.url(), 50);
  upstream.set_delay(std::chrono::milliseconds(300));
  Client client(gateway_->port());
  auto reply = client.Post("/v1/endpoints/recs/invocations", Features(8));
  EXPECT_EQ(reply.status, 504) << reply.body;
  EXPECT_NE(reply.body.find(R"("code":"Timeout")"), std::string::npos);
  EXPECT_EQ(TotalsOf("remote").errors_5xx, 1u);
}

TEST_F(GatewayTest, DeadUpstreamIs503) {
  StartGateway();
  models::testing::FakeModelServer upstream;
  RouteAllToHttp(upstream.url());
  upstream.Stop();
  Client client(gateway_->port());
  auto reply = client.Post("/v1/endpoints/recs/invocations", Features(8));
  EXPECT_EQ(reply.status, 503) << reply.body;
  EXPECT_NE(reply.body.find(R"("code":"ServiceUnavailable")"), std::string::npos);
  EXPECT_EQ(TotalsOf("remote").errors_5xx, 1u);
}

TEST_F(GatewayTest, Upstream5xxIs502) {
  StartGateway();
  models::testing::FakeModelServer upstream;
  RouteAllToHttp(upstream.url());
  upstream.set_status(500);
  Client client(gateway_->port());
  auto reply = client.Post("/v1/endpoints/recs/invocations", Features(8));
  EXPECT_EQ(reply.status, 502) << reply.body;
  upstream.set_status(200);
  reply = client.Post("/v1/endpoints/recs/invocations", Features(8));
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.headers["X-Mlcanary-Variant"], "remote");
}

TEST_F(GatewayTest, CreateVariantWithADeadUpstreamFailsAndAddsNothing) {
  StartGateway();
  models::testing::FakeModelServer upstream;
  const std::string url = upstream.url();
  upstream.Stop();
  auto status = gateway_->router().CreateVariant("recs", Http("remote", url));
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), core::ErrorCode::kUnavailable);
  EXPECT_EQ(gateway_->router().DescribeEndpoint("recs")->variants.size(), 2u);
}

TEST_F(GatewayTest, WeightChangesMidTrafficLoseNoRequest) {
  StartGateway();
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      Client client(gateway_->port());
      for (int i = 0; i < 300; ++i) {
        auto reply = client.Post("/v1/endpoints/recs/invocations", Features(8));
        (reply.status == 200 ? ok : failed)++;
      }
    });
  }
  std::thread shifter([&] {
    for (int i = 0; !stop.load(); ++i) {
      const double w = (i % 11) / 10.0;
      ASSERT_TRUE(gateway_->router().SetWeights("recs", {{"canary", w}, {"production", 1 - w}}));
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  for (auto& c : clients) c.join();
  stop = true;
  shifter.join();
  EXPECT_EQ(ok.load(), 1200);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(TotalsOf("production").invocations + TotalsOf("canary").invocations, 1200u);
}

TEST_F(GatewayTest, ShutdownFinishesRequestsInFlight) {
  StartGateway();
  models::testing::FakeModelServer upstream;
  RouteAllToHttp(upstream.url(), 2000);
  upstream.set_delay(std::chrono::milliseconds(300));
  Client busy(gateway_->port());
  Client idle(gateway_->port());
  ASSERT_EQ(idle.Send(http::verb::get, "/ping").status, 200);
  auto in_flight = std::async(
      std::launch::async, [&] { return busy.Post("/v1/endpoints/recs/invocations", Features(8)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the request is in flight
  gateway_->Shutdown();
  Reply reply = in_flight.get();
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_FALSE(reply.keep_alive);
  // New connections are refused.
  EXPECT_THROW(Client{gateway_->port()}, boost::system::system_error);
}

TEST_F(GatewayTest, BadListenAddressIsRefused) {
  GatewayOptions options;
  options.listen = "not-an-address";
  Gateway gateway(options, registry_, models::MakeModelBackendFactory());
  EXPECT_EQ(gateway.Start().error().code(), core::ErrorCode::kValidation);
}

}  // namespace
}  // namespace mlcanary::gateway
