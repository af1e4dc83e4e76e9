// A check's PromQL cost against the real Prometheus server (Debian's, as the
// tests start it: prometheus/testing/prometheus_server.h) holding 100
// endpoints' series: three replicas' registries (100 endpoints x production
// and canary each, recorded into all along) behind the project's HTTP server,
// scraped every second. One check of one endpoint is PrometheusMetricsSource::
// Snapshot over the last 10 s; a controller tick over 100 active deployments
// is 100 of them, one after the other, as the controller runs them. The
// `queries` counter is read from Prometheus's own /metrics
// (prometheus_http_requests_total of /api/v1/query), not assumed.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdio>
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

constexpr int kEndpoints = 100;

class WallClock final : public core::Clock {
 public:
  core::Timestamp Now() const override {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now());
  }
};

std::string EndpointName(int i) {
  char name[16];
  std::snprintf(name, sizeof name, "ep%03d", i);
  return name;
}

// One gateway replica as Prometheus sees it: 100 endpoints' variants behind /metrics.
struct Replica {
  WallClock clock;
  metrics::MetricsRegistry registry{clock};
  std::vector<std::shared_ptr<metrics::VariantMetrics>> variants;
  http::HttpServer server{http::ServerOptions{.log = [](http::LogLevel, std::string_view) {}},
                          [this](const http::Request&) {
                            http::Response r;
                            r.content_type = std::string(metrics::kPrometheusContentType);
                            r.body = metrics::RenderPrometheus(registry);
                            return r;
                          }};
  Replica() {
    for (int i = 0; i < kEndpoints; ++i) {
      variants.push_back(registry.Variant(EndpointName(i), "production"));
      variants.push_back(registry.Variant(EndpointName(i), "canary"));
    }
  }
};

// The fleet, Prometheus and a recorder thread, started once for the binary.
struct Fleet {
  Replica replicas[3];
  std::unique_ptr<testing::PrometheusServer> prometheus;
  std::unique_ptr<PrometheusMetricsSource> source;
  std::atomic<bool> stop{false};
  std::thread recorder;
  std::string error;

  Fleet() {
    for (Replica& r : replicas) {
      if (auto s = r.server.Start(); !s) error = s.error().ToString();
    }
    auto started = testing::PrometheusServer::Start(
        {replicas[0].server.port(), replicas[1].server.port(), replicas[2].server.port()}, "1s",
        "1s");
    if (!started) {
      error = started.error().ToString();
      return;
    }
    prometheus = std::move(*started);
    source = std::make_unique<PrometheusMetricsSource>(PrometheusOptions{.url = prometheus->url()});
    // 20 requests a variant every 100 ms on each replica (some 4XX/5XX).
    recorder = std::thread([this] {
      for (int tick = 0; !stop; ++tick) {
        for (Replica& r : replicas) {
          for (auto& v : r.variants) {
            for (int i = 0; i < 20; ++i) {
              const int status = (i + tick) % 97 == 0 ? 500 : ((i + tick) % 89 == 0 ? 404 : 200);
              v->Record(status, std::chrono::microseconds(1000 + 997 * ((i * 7 + tick) % 40)),
                        std::chrono::microseconds(1100 + 997 * ((i * 7 + tick) % 40)));
            }
          }
        }
        std::this_thread::sleep_for(100ms);
      }
    });
    std::this_thread::sleep_for(12s);  // a window's worth of scrapes
  }
  ~Fleet() {
    stop = true;
    if (recorder.joinable()) recorder.join();
  }

  // prometheus_http_requests_total of /api/v1/query, from Prometheus's own /metrics.
  double QueriesServed() {
    client::HttpConnection c;
    auto a = c.Send({.url = prometheus->url() + "/metrics", .timeout = 5s});
    if (!a) return -1;
    double total = 0;
    const std::string needle = "handler=\"/api/v1/query\"}";
    for (std::size_t at = a->body.find(needle); at != std::string::npos;
         at = a->body.find(needle, at + 1)) {
      if (a->body.rfind("prometheus_http_requests_total{", at) == std::string::npos) continue;
      const std::size_t line = a->body.rfind('\n', at) + 1;
      if (a->body.compare(line, 31, "prometheus_http_requests_total{") != 0) continue;
      total += std::stod(a->body.substr(at + needle.size()));
    }
    return total;
  }
};

Fleet& TheFleet() {
  static Fleet fleet;
  return fleet;
}

// range(0) endpoints checked per iteration (one controller tick).
void BM_CheckEndpoints(benchmark::State& state) {
  Fleet& fleet = TheFleet();
  if (!fleet.error.empty() || !fleet.source) {
    state.SkipWithError(fleet.error.c_str());
    return;
  }
  const int n = static_cast<int>(state.range(0));
  const double queries_before = fleet.QueriesServed();
  std::int64_t variants = 0;
  for (auto _ : state) {
    const core::Timestamp end = WallClock().Now();
    for (int i = 0; i < n; ++i) {
      auto snap = fleet.source->Snapshot(EndpointName(i), end - 10s, end);
      if (!snap) {
        state.SkipWithError(snap.error().ToString().c_str());
        return;
      }
      variants += static_cast<std::int64_t>(snap->size());
    }
  }
  const double queries = fleet.QueriesServed() - queries_before;
  state.counters["queries_per_check"] =
      benchmark::Counter(queries / static_cast<double>(state.iterations() * n));
  state.counters["queries_per_tick"] =
      benchmark::Counter(queries / static_cast<double>(state.iterations()));
  state.counters["variants_read_per_check"] = benchmark::Counter(
      static_cast<double>(variants) / static_cast<double>(state.iterations() * n));
}
BENCHMARK(BM_CheckEndpoints)->Arg(1)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_CheckEndpoints)
    ->Arg(kEndpoints)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(5)
    ->UseRealTime();

}  // namespace
}  // namespace mlcanary::prometheus

BENCHMARK_MAIN();
