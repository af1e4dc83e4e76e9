// PrometheusMetricsSource against a real HTTP server that answers as the
// query API would (or with garbage): what it asks, how it turns the answers
// into WindowMetrics, and that every failure is a retryable error naming the
// query. prometheus_integration_test runs it against the real Prometheus.
#include "prometheus/prometheus_metrics_source.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/http_server.h"
#include "prometheus/promql.h"

namespace mlcanary::prometheus {
namespace {

using std::chrono::milliseconds;

const core::Timestamp kEnd{milliseconds(1700000060000)};
const core::Timestamp kStart{milliseconds(1700000000000)};

std::string Vector(const std::vector<std::pair<std::string, std::string>>& by_variant) {
  std::string out = R"({"status":"success","data":{"resultType":"vector","result":[)";
  for (std::size_t i = 0; i < by_variant.size(); ++i) {
    if (i > 0) out += ',';
    const auto& [variant, value] = by_variant[i];
    out += variant.empty() ? R"({"metric":{})" : R"({"metric":{"variant":")" + variant + "\"}";
    out += R"(,"value":[1700000060,")" + value + "\"]}";
  }
  return out + "]}}";
}

class PrometheusSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<http::HttpServer>(
        http::ServerOptions{.log = [](http::LogLevel, std::string_view) {}},
        [this](const http::Request& r) {
          std::lock_guard lock(mu_);
          seen_.push_back(r);
          if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
          const std::string query(r.Query("query").value_or(""));
          const auto it = answers_.find(query);
          if (it == answers_.end()) return http::JsonResponse(200, Vector({}));
          http::Response response = http::JsonResponse(status_, it->second);
          return response;
        });
    ASSERT_TRUE(server_->Start());
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
    source_ = std::make_unique<PrometheusMetricsSource>(
        PrometheusOptions{.url = url_ + "/", .timeout = milliseconds(2000)});
    q_ = BuildWindowQueries("recs", "", milliseconds(60000));
  }

  void Answer(const std::string& query, std::string body) {
    std::lock_guard lock(mu_);
    answers_[query] = std::move(body);
  }
  std::vector<http::Request> Seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

  std::unique_ptr<http::HttpServer> server_;
  std::string url_;
  std::unique_ptr<PrometheusMetricsSource> source_;
  WindowQueries q_;
  std::mutex mu_;
  std::map<std::string, std::string> answers_;
  std::vector<http::Request> seen_;
  int status_ = 200;
  std::chrono::milliseconds delay_{0};
};

TEST_F(PrometheusSourceTest, FillsEveryFieldFromTheQueriesAtTheWindowsEnd) {
  Answer(q_.invocations, Vector({{"canary", "1003.4"}, {"production", "9000.6"}}));
  Answer(q_.errors_4xx, Vector({{"canary", "4.5"}}));  // production: no series, 0
  Answer(q_.errors_5xx, Vector({{"canary", "20.2"}, {"production", "1"}}));
  Answer(q_.p50, Vector({{"canary", "0.004"}, {"production", "0.002"}}));
  Answer(q_.p90, Vector({{"canary", "0.02"}, {"production", "0.003"}}));
  Answer(q_.p99, Vector({{"canary", "0.0495"}, {"production", "0.0049"}}));
  Answer(q_.overhead, Vector({{"canary", "0.0001"}, {"production", "NaN"}}));
  Answer(q_.variant_cpu, Vector({{"canary", "0.5"}}));
  Answer(q_.variant_memory, Vector({{"canary", "0.25"}}));
  Answer(q_.process_cpu, Vector({{"", "1.5"}}));
  Answer(q_.process_memory, Vector({{"", "0.125"}}));

  auto r = source_->Snapshot("recs", kStart, kEnd);
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_EQ(r->size(), 2u);
  const core::WindowMetrics& c = r->at("canary");
  EXPECT_EQ(c.invocations, 1003);
  EXPECT_EQ(c.errors_4xx, 5);  // llround(4.5)
  EXPECT_EQ(c.errors_5xx, 20);
  EXPECT_DOUBLE_EQ(c.p50_ms, 4);
  EXPECT_DOUBLE_EQ(c.p90_ms, 20);
  EXPECT_DOUBLE_EQ(c.p99_ms, 49.5);
  EXPECT_DOUBLE_EQ(c.overhead_ms, 0.1);
  EXPECT_EQ(c.cpu_utilization, 50.0);  // its own process
  EXPECT_EQ(c.memory_utilization, 25.0);
  const core::WindowMetrics& p = r->at("production");
  EXPECT_EQ(p.invocations, 9001);
  EXPECT_EQ(p.errors_4xx, 0);
  EXPECT_EQ(p.errors_5xx, 1);
  EXPECT_DOUBLE_EQ(p.p99_ms, 4.9);
  EXPECT_EQ(p.overhead_ms, 0);          // NaN (0/0): no overhead measured
  EXPECT_EQ(p.cpu_utilization, 150.0);  // the replicas' processes
  EXPECT_EQ(p.memory_utilization, 12.5);

  // Every query went to /api/v1/query, evaluated at the window's end.
  const std::vector<http::Request> seen = Seen();
  ASSERT_EQ(seen.size(), 11u);
  for (const http::Request& s : seen) {
    EXPECT_EQ(s.method, "GET");
    EXPECT_EQ(s.path, "/api/v1/query");
    EXPECT_EQ(s.Query("time"), "1700000060.000");
  }
  EXPECT_EQ(seen[0].Query("query"), q_.invocations);
}

TEST_F(PrometheusSourceTest, NoSeriesIsNoTrafficAfterOneQuery) {
  auto r = source_->Snapshot("recs", kStart, kEnd);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_TRUE(r->empty());
  EXPECT_EQ(Seen().size(), 1u);
}

TEST_F(PrometheusSourceTest, ZeroInvocationsAreNoTrafficAndLatenciesAreNotRead) {
  Answer(q_.invocations, Vector({{"canary", "0"}, {"production", "0.4"}}));
  // Were the latencies read, this would be an error.
  Answer(q_.p99, "garbage");
  auto r = source_->Snapshot("recs", kStart, kEnd);
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ(r->at("canary"), core::WindowMetrics{});
  EXPECT_FALSE(r->at("production").has_data());
  EXPECT_EQ(Seen().size(), 3u);  // invocations, 4xx, 5xx
}

TEST_F(PrometheusSourceTest, InvocationsWithoutLatencyAreAnErrorNeverZeroLatency) {
  Answer(q_.invocations, Vector({{"canary", "500"}, {"production", "900"}}));
  Answer(q_.p50, Vector({{"canary", "0.01"}, {"production", "0.01"}}));
  Answer(q_.p90, Vector({{"canary", "0.01"}, {"production", "0.01"}}));
  Answer(q_.p99, Vector({{"canary", "NaN"}, {"production", "0.01"}}));
  auto r = source_->Snapshot("recs", kStart, kEnd);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), core::ErrorCode::kUnavailable);
  EXPECT_EQ(r.error().message(),
            "prometheus at " + url_ + ", query '" + q_.p99 +
                "': no latency for variant 'canary' (500 invocations in the window): a window "
                "without latency is not read as zero latency");

  Answer(q_.p99, Vector({{"production", "0.01"}}));  // no sample at all for the canary
  r = source_->Snapshot("recs", kStart, kEnd);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("no latency for variant 'canary'"), std::string::npos);
}

TEST_F(PrometheusSourceTest, GarbageIsARetryableErrorNamingTheQuery) {
  Answer(q_.invocations, "<html>oops</html>");
  auto r = source_->Snapshot("recs", kStart, kEnd);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), core::ErrorCode::kUnavailable);
  EXPECT_TRUE(r.error().retryable());
  EXPECT_EQ(r.error().message(), "prometheus at " + url_ + ", query '" + q_.invocations +
                                     "': the answer is not JSON: '<html>oops</html>'");
}

TEST_F(PrometheusSourceTest, HttpErrorIsARetryableErrorWithPrometheusText) {
  status_ = 422;
  Answer(q_.invocations,
         R"({"status":"error","errorType":"execution","error":"too many samples"})");
  auto r = source_->Snapshot("recs", kStart, kEnd);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), core::ErrorCode::kUnavailable);
  EXPECT_EQ(r.error().message(), "prometheus at " + url_ + ", query '" + q_.invocations +
                                     "': HTTP 422, execution: too many samples");
}

TEST_F(PrometheusSourceTest, NegativeOrNanCountsAreErrors) {
  Answer(q_.invocations, Vector({{"canary", "-3"}}));
  auto r = source_->Snapshot("recs", kStart, kEnd);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), core::ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message().find("invocations of variant 'canary' is -3"), std::string::npos)
      << r.error().message();
  Answer(q_.invocations, Vector({{"canary", "NaN"}}));
  EXPECT_FALSE(source_->Snapshot("recs", kStart, kEnd));
}

TEST_F(PrometheusSourceTest, SamplesWithoutVariantOrTwiceTheSameAreErrors) {
  Answer(q_.invocations, Vector({{"", "3"}}));
  auto r = source_->Snapshot("recs", kStart, kEnd);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "prometheus at " + url_ + ", query '" + q_.invocations +
                                     "': a sample has no variant label");
  Answer(q_.invocations, Vector({{"canary", "3"}, {"canary", "4"}}));
  EXPECT_FALSE(source_->Snapshot("recs", kStart, kEnd));
}

TEST_F(PrometheusSourceTest, EmptyWindowAsksNothing) {
  auto r = source_->Snapshot("recs", kEnd, kEnd);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
  EXPECT_TRUE(Seen().empty());
}

TEST_F(PrometheusSourceTest, SlowAnswerIsATimeout) {
  delay_ = milliseconds(600);
  PrometheusMetricsSource impatient({.url = url_, .timeout = milliseconds(200)});
  auto r = impatient.Snapshot("recs", kStart, kEnd);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), core::ErrorCode::kTimeout);
  EXPECT_TRUE(r.error().message().starts_with("prometheus at " + url_ + ", query '"))
      << r.error().message();
}

TEST_F(PrometheusSourceTest, NothingListeningIsUnavailableNamingTheUrl) {
  server_->Shutdown();
  auto r = source_->Snapshot("recs", kStart, kEnd);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), core::ErrorCode::kUnavailable);
  EXPECT_TRUE(r.error().message().starts_with("prometheus at " + url_ + ", query '" +
                                              q_.invocations + "': "))
      << r.error().message();
}

TEST(MakePrometheusMetricsSourceTest, RefusesBadUrlsAndTimeoutsNamingTheField) {
  EXPECT_TRUE(MakePrometheusMetricsSource({.url = "http://prom:9090"}));
  EXPECT_TRUE(MakePrometheusMetricsSource({.url = "https://prom.example/prometheus/"}));
  for (const char* url : {"", "prom:9090", "ftp://prom", "http://", "http:///x",
                          "http://prom:9090/?x=1", "http://prom:9090/#a", "http://a b"}) {
    auto r = MakePrometheusMetricsSource({.url = url});
    ASSERT_FALSE(r) << url;
    EXPECT_EQ(r.error().code(), core::ErrorCode::kValidation);
    EXPECT_TRUE(r.error().message().starts_with("metrics.url: '")) << r.error().message();
  }
  auto r = MakePrometheusMetricsSource({.url = "http://prom:9090", .timeout = milliseconds(0)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "metrics.timeout: must be more than 0");
}

}  // namespace
}  // namespace mlcanary::prometheus
