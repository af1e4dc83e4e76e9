// The MetricsSource contract (core/testing/metrics_source_contract.h) on
// PrometheusMetricsSource, against the real Prometheus server (Debian's
// /usr/bin/prometheus, scripts/install-deps). One server for the whole binary
// (a WHOLE_BINARY test: one process) scrapes every 200 ms a /metrics page that
// the project's HTTP server renders from a registry the drivers record into,
// one endpoint per test. A window boundary waits for the scrapes that put what
// was recorded before it, and nothing recorded after it, on its side.
// Label "integration" (it starts a server; about 30 s).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "client/http_connection.h"
#include "core/clock.h"
#include "core/testing/metrics_source_contract.h"
#include "http/http_server.h"
#include "metrics/prometheus.h"
#include "metrics/registry.h"
#include "metrics/variant_metrics.h"
#include "prometheus/prometheus_metrics_source.h"
#include "prometheus/testing/prometheus_server.h"

namespace mlcanary::prometheus {
namespace {

using namespace std::chrono_literals;
using core::testing::MetricsSourceContractTest;
using core::testing::MetricsSourceDriver;
using core::testing::MetricsSourceKind;
using core::testing::Requests;

class WallClock final : public core::Clock {
 public:
  core::Timestamp Now() const override {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now());
  }
};

// Polls `done` every 20 ms for at most `limit`.
bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

// The gateway replica Prometheus scrapes, and the server itself; started once.
class Server {
 public:
  // Starts what is not running; false (with a test failure) when it cannot.
  bool EnsureRunning() {
    if (!prometheus_) {
      if (!replica_.Start()) return false;
      auto started = testing::PrometheusServer::Start({replica_.port()}, "200ms", "150ms");
      if (!started) {
        ADD_FAILURE() << started.error().ToString();
        return false;
      }
      prometheus_ = std::move(*started);
      return true;
    }
    if (auto r = prometheus_->Run(); !r) {
      ADD_FAILURE() << r.error().ToString();
      return false;
    }
    return true;
  }

  void Stop() {
    if (prometheus_) prometheus_->Stop();
  }

  // Waits until the page has been served `scrapes` times since `after`.
  void AwaitScrapes(core::Timestamp after, int scrapes) {
    const std::int64_t from = served_.load();
    const bool done = WaitFor(
        [&] { return served_.load() >= from + scrapes && last_served_at_ms_.load() > Ms(after); },
        10s);
    if (!done) ADD_FAILURE() << "prometheus stopped scraping; its log: " << Log();
  }

  std::string Log() const { return prometheus_ ? prometheus_->Log() : std::string(); }

  WallClock clock;
  metrics::MetricsRegistry registry{clock};
  const std::string& url() const { return prometheus_->url(); }

 private:
  static std::int64_t Ms(core::Timestamp t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  }

  std::atomic<std::int64_t> served_{0};
  std::atomic<std::int64_t> last_served_at_ms_{0};
  http::HttpServer replica_{http::ServerOptions{.log = [](http::LogLevel, std::string_view) {}},
                            [this](const http::Request&) {
                              http::Response r;
                              r.content_type = std::string(metrics::kPrometheusContentType);
                              r.body = metrics::RenderPrometheus(registry);
                              last_served_at_ms_.store(Ms(clock.Now()));
                              served_.fetch_add(1);
                              return r;
                            }};
  std::unique_ptr<testing::PrometheusServer> prometheus_;  // after replica_: stops first
};

Server& GetServer() {
  static Server server;
  return server;
}

class PrometheusDriver final : public MetricsSourceDriver {
 public:
  PrometheusDriver(Server& server, std::string endpoint, const std::vector<std::string>& variants)
      : server_(server),
        endpoint_(std::move(endpoint)),
        source_(PrometheusOptions{.url = server.url()}) {
    // The router makes a variant's recorder (its series, at 0) when it starts serving it.
    for (const std::string& v : variants) {
      recorders_.push_back(server_.registry.Variant(endpoint_, v));
    }
  }

  core::MetricsSource& source() override { return source_; }

  void Record(const std::string& variant, const Requests& requests) override {
    const auto latency = std::chrono::nanoseconds(std::llround(requests.latency_ms * 1e6));
    auto recorder = server_.registry.Variant(endpoint_, variant);
    for (std::int64_t i = 0; i < requests.count; ++i) {
      recorder->Record(requests.status, latency, latency);
    }
  }

  // Scrapes after what was recorded (several: increase() extrapolates the
  // change it sees to the window's edges, less so the more samples it has),
  // the boundary, then a scrape stamped after it before anything new is
  // recorded.
  core::Timestamp Boundary() override {
    server_.AwaitScrapes(server_.clock.Now(), 4);
    const core::Timestamp t = server_.clock.Now();
    server_.AwaitScrapes(t + 50ms, 1);
    std::this_thread::sleep_for(50ms);  // stored before it is queried
    return t;
  }

  bool Break() override {
    server_.Stop();  // the next test's driver starts it again
    return true;
  }

 private:
  Server& server_;
  std::string endpoint_;
  PrometheusMetricsSource source_;
  std::vector<std::shared_ptr<metrics::VariantMetrics>> recorders_;
};

// The export bucket (le bounds) that holds `truth_ms`: histogram_quantile
// interpolates within it.
std::pair<double, double> ExportBucketOf(double truth_ms) {
  double low = 0;
  for (const std::int64_t bound_ns : metrics::kExportBucketBoundsNs) {
    const double bound_ms = static_cast<double>(bound_ns) / 1e6;
    if (truth_ms <= bound_ms) return {low, bound_ms};
    low = bound_ms;
  }
  return {low, INFINITY};
}

MetricsSourceKind PrometheusKind() {
  MetricsSourceKind kind;
  kind.name = "Prometheus";
  kind.make = [](const std::string& endpoint,
                 const std::vector<std::string>& variants) -> std::unique_ptr<MetricsSourceDriver> {
    Server& server = GetServer();
    if (!server.EnsureRunning()) return nullptr;
    auto driver = std::make_unique<PrometheusDriver>(server, endpoint, variants);
    return driver;
  };
  // increase() scales the change between the first and last scrape inside the
  // window to the window's length (README "Windows").
  kind.count_tolerance = 0.35;
  kind.latency_bounds = ExportBucketOf;
  kind.unknown_endpoint = core::testing::UnknownEndpoint::kEmpty;  // no series: no traffic
  return kind;
}

INSTANTIATE_TEST_SUITE_P(Prometheus, MetricsSourceContractTest, ::testing::Values(PrometheusKind()),
                         ::testing::PrintToStringParamName());

}  // namespace
}  // namespace mlcanary::prometheus
