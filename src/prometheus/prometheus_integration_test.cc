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

// A port nothing listens on now (bound, read, released).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

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
    const char* bin = std::getenv("MLCANARY_PROMETHEUS_BIN");
    binary_ = bin != nullptr && *bin != '\0' ? bin : "/usr/bin/prometheus";
    ASSERT_TRUE(std::filesystem::exists(binary_))
        << binary_ << " is missing: scripts/install-deps installs Debian's prometheus";
    char tmpl[] = "/tmp/mlcanary-prometheus-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (Replica* r : {&a_, &b_}) ASSERT_TRUE(r->server.Start());
    std::ofstream(dir_ + "/prometheus.yml")
        << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        << "scrape_configs:\n  - job_name: mlcanary\n    static_configs:\n"
        << "      - targets: ['127.0.0.1:" << a_.server.port()
        << "', '127.0.0.1:" << b_.server.port() << "']\n";
    port_ = FreePort();
    ASSERT_GT(port_, 0);
    url_ = "http://127.0.0.1:" + std::to_string(port_);
    StartPrometheus();
    client::HttpConnection probe;
    ASSERT_TRUE(WaitFor(
        [&] {
          auto r = probe.Send({.url = url_ + "/-/ready", .timeout = 1s});
          return r && r->status == 200;
        },
        15s))
        << "prometheus did not get ready; its log: " << Log();
    source_ = std::make_unique<PrometheusMetricsSource>(PrometheusOptions{.url = url_});
  }

  void TearDown() override {
    StopPrometheus();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void StartPrometheus() {
    const std::vector<std::string> args = {
        binary_, "--config.file=" + dir_ + "/prometheus.yml",
        "--storage.tsdb.path=" + dir_ + "/data",
        "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"};
    const std::string log = dir_ + "/prometheus.log";
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }

  void StopPrometheus() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(50ms);
    }
    pid_ = -1;
  }

  std::string Log() {
    std::ifstream in(dir_ + "/prometheus.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // The value of `query` by variant, evaluated now (empty on any error).
  std::map<std::string, double> Instant(const std::string& query) {
    auto r = source_->QueryByVariant(query, Now());
    return r ? *r : std::map<std::string, double>{};
  }

  std::string binary_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
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
