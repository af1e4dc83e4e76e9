// A Gateway built from command-line flags, for load benchmarks before (and
// beside) `mlcanary serve`:
//   gateway_bench_server --listen 127.0.0.1:8080 --threads 4 --endpoint recs
//       --variant production=0.9,xgboost,examples/models/recs-v1.json
//       --variant canary=0.1,http,http://127.0.0.1:9001[,TIMEOUT_MS]
//       [--http-loop caller|own] [--native-trees on|off]   (A/B of the fast paths)
//       [--shadow VARIANT[,SAMPLE]]   (issue 14: copies of the others' requests to VARIANT)
//       [--shadow-nice N]             (the shadow threads' added niceness, default 10)
//       [--shadow-idle on|off]        (the shadow threads SCHED_IDLE, default on)
//       [--shadow-linger MS]          (how long a shadow thread polls before it sleeps, 20;
//                                      0: it sleeps at once, and every copy wakes it)
// Runs until SIGINT or SIGTERM, then shuts down gracefully. Prints its resident
// memory once the models are loaded.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "gateway/gateway.h"
#include "metrics/registry.h"
#include "models/backend_factory.h"

namespace {

class SystemClock final : public mlcanary::core::Clock {
 public:
  mlcanary::core::Timestamp Now() const override {
    return std::chrono::time_point_cast<mlcanary::core::Duration>(std::chrono::system_clock::now());
  }
};

std::string ResidentMemory() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) return line.substr(6);
  }
  return "?";
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto pos = s.find(sep, start);
    out.push_back(s.substr(start, pos - start));
    if (pos == std::string::npos) return out;
    start = pos + 1;
  }
}

int Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--listen HOST:PORT] [--threads N] [--endpoint NAME]\n"
               "          [--http-loop caller|own] [--native-trees on|off]\n"
               "          [--shadow VARIANT[,SAMPLE]] [--shadow-nice N]\n"
               "          [--shadow-idle on|off] [--shadow-linger MS]\n"
               "          --variant NAME=WEIGHT,xgboost,PATH | NAME=WEIGHT,http,URL[,TIMEOUT_MS]"
               " ...\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mlcanary;
  gateway::GatewayOptions options;
  options.listen = "127.0.0.1:8080";
  core::Endpoint endpoint;
  endpoint.name = "recs";
  models::BackendFactoryOptions factory_options;
  std::optional<core::ShadowSpec> shadow;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Usage(argv[0]);
    const std::string value = argv[++i];
    if (flag == "--listen") {
      options.listen = value;
    } else if (flag == "--threads") {
      options.threads = std::atoi(value.c_str());
    } else if (flag == "--http-loop") {  // caller (default) or own, for A/B runs
      if (value != "caller" && value != "own") return Usage(argv[0]);
      factory_options.http_use_caller_loop = value == "caller";
    } else if (flag == "--native-trees") {  // on (default) or off, for A/B runs
      if (value != "on" && value != "off") return Usage(argv[0]);
      factory_options.xgboost_native_trees = value == "on";
    } else if (flag == "--shadow") {  // VARIANT[,SAMPLE]: a shadow copy to VARIANT
      auto parts = Split(value, ',');
      shadow = mlcanary::core::ShadowSpec{
          .variant = parts[0], .sample = parts.size() > 1 ? std::atof(parts[1].c_str()) : 1.0};
    } else if (flag == "--shadow-nice") {  // for A/B runs of the shadow threads' priority
      options.shadow.nice = std::atoi(value.c_str());
    } else if (flag == "--shadow-idle") {  // on (default: SCHED_IDLE) or off, for A/B runs
      if (value != "on" && value != "off") return Usage(argv[0]);
      options.shadow.idle = value == "on";
    } else if (flag == "--shadow-linger") {  // ms a shadow thread polls before it sleeps (20)
      options.shadow.linger = std::chrono::milliseconds(std::atoi(value.c_str()));
    } else if (flag == "--endpoint") {
      endpoint.name = value;
    } else if (flag == "--variant") {
      auto eq = value.find('=');
      auto parts = Split(value.substr(eq + 1), ',');
      if (eq == std::string::npos || parts.size() < 3) return Usage(argv[0]);
      core::Variant v;
      v.name = value.substr(0, eq);
      v.weight = std::atof(parts[0].c_str());
      if (parts[1] == "xgboost") {
        v.model.kind = core::ModelKind::kXgboost;
        v.model.path = parts[2];
      } else if (parts[1] == "http") {
        v.model.kind = core::ModelKind::kHttp;
        v.model.url = parts[2];
        if (parts.size() > 3) v.model.timeout = core::Duration(std::atoi(parts[3].c_str()));
      } else {
        return Usage(argv[0]);
      }
      endpoint.variants.push_back(v);
    } else {
      return Usage(argv[0]);
    }
  }
  if (endpoint.variants.empty()) return Usage(argv[0]);

  // Block the stop signals before any thread starts, so only sigwait sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  SystemClock clock;
  metrics::RegistryOptions registry_options;
  registry_options.tick_period = std::chrono::seconds(1);
  metrics::MetricsRegistry registry(clock, registry_options);
  gateway::Gateway gw(options, registry, models::MakeModelBackendFactory(factory_options));
  if (auto s = gw.router().AddEndpoint(endpoint); !s) {
    std::fprintf(stderr, "%s\n", s.error().ToString().c_str());
    return 1;
  }
  if (shadow) {
    if (auto s = gw.router().SetShadow(endpoint.name, shadow); !s) {
      std::fprintf(stderr, "--shadow: %s\n", s.error().ToString().c_str());
      return 1;
    }
  }
  if (auto s = gw.Start(); !s) {
    std::fprintf(stderr, "%s\n", s.error().ToString().c_str());
    return 1;
  }
  std::printf("listening on port %u, resident memory%s\n", gw.port(), ResidentMemory().c_str());
  std::fflush(stdout);
  int signal = 0;
  sigwait(&signals, &signal);
  gw.Shutdown();
  for (const auto& t : registry.Totals()) {
    std::printf("%s/%s: %llu invocations, %llu 4xx, %llu 5xx, %llu shadow copies dropped\n",
                t.endpoint.c_str(), t.variant.c_str(),
                static_cast<unsigned long long>(t.invocations),
                static_cast<unsigned long long>(t.errors_4xx),
                static_cast<unsigned long long>(t.errors_5xx),
                static_cast<unsigned long long>(t.shadow_dropped));
  }
  return 0;
}
