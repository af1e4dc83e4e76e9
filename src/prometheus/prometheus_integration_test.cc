// PrometheusMetricsSource against the real Prometheus server (Debian's
// /usr/bin/prometheus, scripts/install-deps): two replicas' /metrics endpoints,
// served by the project's HTTP server from registries the test records into,
// scraped every second; the source must read the window's traffic summed
// across both, and report Prometheus stopped as a retryable check error.
// Label "integration" (it starts a server; about 10 s).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/http_connection.h"
#include "core/clock.h"
#include "http/http_server.h"
#include "metrics/prometheus.h"
#include "metrics/registry.h"
#include "prometheus/prometheus_metrics_source.h"
#include "prometheus/testing/prometheus_server.h"

namespace mlcanary::prometheus {
namespace {

using namespace std::chrono_literals;

class WallClock final : public core::Clock {
 public:
  core::Timestamp Now() const override {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now());
  }
};

core::Timestamp Now() { return WallClock().Now(); }

// One gateway replica as Prometheus sees it: a registry behind /metrics.
struct Replica {
  WallClock clock;
  metrics::MetricsRegistry registry{clock};
  std::shared_ptr<metrics::VariantMetrics> production = registry.Variant("recs", "production");
  std::shared_ptr<metrics::VariantMetrics> canary = registry.Variant("recs", "canary");
  http::HttpServer server{http::ServerOptions{.log = [](http::LogLevel, std::string_view) {}},
                          [this](const http::Request&) {
                            http::Response r;
                            r.content_type = std::string(metrics::kPrometheusContentType);
                            r.body = metrics::RenderPrometheus(registry);
                            return r;
                          }};
};

// Polls `done` every 100 ms for at most `limit`.
bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return done();
}

class PrometheusIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (Replica* r : {&a_, &b_}) ASSERT_TRUE(r->server.Start());
    auto started =
        testing::PrometheusServer::Start({a_.server.port(), b_.server.port()}, "1s", "1s");
    ASSERT_TRUE(started) << started.error().ToString();
    prometheus_ = std::move(*started);
    url_ = prometheus_->url();
    source_ = std::make_unique<PrometheusMetricsSource>(PrometheusOptions{.url = url_});
  }

  void TearDown() override { prometheus_.reset(); }

  void StopPrometheus() { prometheus_->Stop(); }
  std::string Log() { return prometheus_->Log(); }

  // The value of `query` by variant, evaluated now (empty on any error).
  std::map<std::string, double> Instant(const std::string& query) {
    auto r = source_->QueryByVariant(query, Now());
    return r ? *r : std::map<std::string, double>{};
  }

  std::unique_ptr<testing::PrometheusServer> prometheus_;
  std::string url_;
  Replica a_;
  Replica b_;
  std::unique_ptr<PrometheusMetricsSource> source_;
};

TEST_F(PrometheusIntegrationTest, ReadsTheWindowSummedAcrossReplicasAndFailsWhenStopped) {
  // Both replicas scraped twice in the last 2.5 s (their series exist, all
  // zero) before any traffic.
  ASSERT_TRUE(WaitFor(
      [&] {
        const auto scrapes = Instant(
            R"(min by (variant) (count_over_time(mlcanary_invocations_total{endpoint="recs"}[2500ms])))"
            R"( and on (variant) count by (variant) (mlcanary_invocations_total{endpoint="recs"}) == 2)");
        return scrapes.size() == 2 && scrapes.at("canary") >= 2 && scrapes.at("production") >= 2;
      },
      10s))
      << Log();
  const core::Timestamp before = Now();
  const core::Timestamp start = before - 3s;  // holds a zero sample of every series

  // Replica A: canary 600 (6 4XX, 12 5XX), B: canary 400 (8 5XX); production
  // 1000 on each. Model latency 30 ms on the canary (bucket 25..50 ms), 3 ms on
  // production (2.5..5 ms); overhead 0.1 and 0.2 ms.
  auto record = [](metrics::VariantMetrics& v, int n, int status, std::chrono::microseconds model,
                   std::chrono::microseconds overhead) {
    for (int i = 0; i < n; ++i) v.Record(status, model, model + overhead);
  };
  record(*a_.canary, 582, 200, 30000us, 100us);
  record(*a_.canary, 6, 404, 30000us, 100us);
  record(*a_.canary, 12, 500, 30000us, 100us);
  record(*b_.canary, 392, 200, 30000us, 100us);
  record(*b_.canary, 8, 503, 30000us, 100us);
  record(*a_.production, 1000, 200, 3000us, 200us);
  record(*b_.production, 1000, 200, 3000us, 200us);
  ASSERT_TRUE(WaitFor(
      [&] {
        return Instant(R"(sum by (variant) (mlcanary_invocations_total{endpoint="recs"}))") ==
               std::map<std::string, double>{{"canary", 1000}, {"production", 2000}};
      },
      10s))
      << Log();
  std::this_thread::sleep_for(3s);  // a few more scrapes of the totals
  const core::Timestamp end = Now();

  auto window = source_->Snapshot("recs", start, end);
  ASSERT_TRUE(window) << window.error().ToString();
  ASSERT_EQ(window->size(), 2u);
  const core::WindowMetrics& c = window->at("canary");
  const core::WindowMetrics& p = window->at("production");
  // increase() reads the counters' change over the window from the scrapes
  // inside it and extrapolates it to the window's end (by at most one scrape
  // interval, here over at least ~4 s of samples): never less than the truth,
  // at most about a third more. One replica alone would give 600 or 400.
  auto expect_count = [](std::int64_t got, std::int64_t truth, const char* what) {
    EXPECT_GE(got, truth) << what;
    EXPECT_LE(got, truth * 135 / 100 + 1) << what;
  };
  expect_count(c.invocations, 1000, "canary invocations");
  expect_count(c.errors_4xx, 6, "canary 4XX");
  expect_count(c.errors_5xx, 20, "canary 5XX");
  expect_count(p.invocations, 2000, "production invocations");
  EXPECT_EQ(p.errors_4xx, 0);
  EXPECT_EQ(p.errors_5xx, 0);
  // Quantiles are interpolated within the bucket that holds them.
  for (double q : {c.p50_ms, c.p90_ms, c.p99_ms}) {
    EXPECT_GT(q, 25);
    EXPECT_LE(q, 50);
  }
  for (double q : {p.p50_ms, p.p90_ms, p.p99_ms}) {
    EXPECT_GT(q, 2.5);
    EXPECT_LE(q, 5);
  }
  EXPECT_NEAR(c.overhead_ms, 0.1, 1e-6);
  EXPECT_NEAR(p.overhead_ms, 0.2, 1e-6);
  EXPECT_EQ(c.cpu_utilization, std::nullopt);  // no process sampler in these replicas
  EXPECT_EQ(c.memory_utilization, std::nullopt);

  // The window before the traffic: series but no invocations (no latency read).
  auto quiet = source_->Snapshot("recs", start, before);
  ASSERT_TRUE(quiet) << quiet.error().ToString();
  EXPECT_EQ(quiet->size(), 2u);
  EXPECT_EQ(quiet->at("canary"), core::WindowMetrics{});
  EXPECT_EQ(quiet->at("production"), core::WindowMetrics{});
  // An endpoint Prometheus has no series of: no traffic.
  auto unknown = source_->Snapshot("nope", start, end);
  ASSERT_TRUE(unknown) << unknown.error().ToString();
  EXPECT_TRUE(unknown->empty());

  // Prometheus stopped: a retryable check error naming it, never a verdict.
  StopPrometheus();
  auto down = source_->Snapshot("recs", start, end);
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code(), core::ErrorCode::kUnavailable);
  EXPECT_TRUE(down.error().message().starts_with("prometheus at " + url_ + ", query '"))
      << down.error().message();
}

}  // namespace
}  // namespace mlcanary::prometheus
