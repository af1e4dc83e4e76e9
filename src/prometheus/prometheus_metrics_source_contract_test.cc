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
  ~Server() {
    Stop();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Starts what is not running; false (with a test failure) when it cannot.
  bool EnsureRunning() {
    if (dir_.empty()) {
      const char* bin = std::getenv("MLCANARY_PROMETHEUS_BIN");
      binary_ = bin != nullptr && *bin != '\0' ? bin : "/usr/bin/prometheus";
      if (!std::filesystem::exists(binary_)) {
        ADD_FAILURE() << binary_
                      << " is missing: scripts/install-deps installs Debian's prometheus";
        return false;
      }
      char tmpl[] = "/tmp/mlcanary-prometheus-XXXXXX";
      if (::mkdtemp(tmpl) == nullptr) return false;
      dir_ = tmpl;
      if (!replica_.Start()) return false;
      port_ = FreePort();
      url_ = "http://127.0.0.1:" + std::to_string(port_);
      std::ofstream(dir_ + "/prometheus.yml")
          << "global:\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\n"
          << "scrape_configs:\n  - job_name: mlcanary\n    static_configs:\n"
          << "      - targets: ['127.0.0.1:" << replica_.port() << "']\n";
    }
    if (pid_ > 0) return true;
    const std::vector<std::string> args = {
        binary_, "--config.file=" + dir_ + "/prometheus.yml",
        "--storage.tsdb.path=" + dir_ + "/data",
        "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"};
    const std::string log = dir_ + "/prometheus.log";
    pid_ = ::fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    client::HttpConnection probe;
    const bool ready = WaitFor(
        [&] {
          auto r = probe.Send({.url = url_ + "/-/ready", .timeout = 1s});
          return r && r->status == 200;
        },
        15s);
    if (!ready) ADD_FAILURE() << "prometheus did not get ready; its log: " << Log();
    return ready;
  }

  void Stop() {
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

  // Waits until the page has been served `scrapes` times since `after`.
  void AwaitScrapes(core::Timestamp after, int scrapes) {
    const std::int64_t from = served_.load();
    const bool done = WaitFor(
        [&] { return served_.load() >= from + scrapes && last_served_at_ms_.load() > Ms(after); },
        10s);
    if (!done) ADD_FAILURE() << "prometheus stopped scraping; its log: " << Log();
  }

  std::string Log() const {
    std::ifstream in(dir_ + "/prometheus.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  WallClock clock;
  metrics::MetricsRegistry registry{clock};
  const std::string& url() const { return url_; }

 private:
  static std::int64_t Ms(core::Timestamp t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  }

  std::string binary_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::string url_;
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
