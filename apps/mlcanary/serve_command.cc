// Wires the embedded shape: SQLite store, metrics registry, gateway (router as
// TrafficControl, registry as MetricsSource), notifiers, controller and its
// loop, control API. Then waits for SIGINT/SIGTERM and shuts down in order.
#include "serve_command.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>

#include "api/control_api.h"
#include "config/service_config.h"
#include "controller/controller.h"
#include "controller/controller_loop.h"
#include "gateway/gateway.h"
#include "http/http_server.h"
#include "metrics/controller_status.h"
#include "metrics/prometheus.h"
#include "metrics/registry.h"
#include "metrics/registry_metrics_source.h"
#include "models/backend_factory.h"
#include "notify/fanout_notifier.h"
#include "notify/log_notifier.h"
#include "notify/webhook_notifier.h"
#include "store/sqlite_deployment_store.h"
#include "util/system_clock.h"

namespace mlcanary::app {
namespace {

int Refuse(const std::string& message) {
  std::cerr << "mlcanary serve: " << message << "\n";
  return 2;
}

std::string Env(const std::string& name) {
  if (name.empty()) return "";
  const char* v = std::getenv(name.c_str());
  return v == nullptr ? "" : v;
}

// Feeds every announced event to the /metrics view of the controller.
class StatusNotifier final : public core::Notifier {
 public:
  explicit StatusNotifier(metrics::ControllerStatus& status) : status_(status) {}
  void Notify(const core::Deployment& d, const core::DeploymentEvent& e) override {
    status_.ObserveEvent(d, e);
  }

 private:
  metrics::ControllerStatus& status_;
};

// Deployment ids: "dep-" + 16 random hex digits.
std::string NewDeploymentId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[32];
  std::snprintf(buf, sizeof(buf), "dep-%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

}  // namespace

int RunServe(const ServeOptions& options) {
  auto config = config::LoadServiceConfig(options.config_path);
  if (!config) return Refuse(config.error().message());
  const std::string admin_token = Env(config->admin_token_env);
  const std::string reader_token = Env(config->reader_token_env);
  if (admin_token.empty()) {
    return Refuse("set the admin token in $" + config->admin_token_env +
                  " (auth.admin_token_env): the control API refuses to run without one");
  }

  // Block the shutdown signals in every thread; the main thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  util::SystemClock clock;
  auto store = store::SqliteDeploymentStore::Open(config->store.substr(7));
  if (!store) return Refuse(config->store + ": " + store.error().message());

  metrics::RegistryOptions registry_options;
  registry_options.interval = std::chrono::milliseconds(100);
  registry_options.slots = 6000;  // 10 minutes of 100 ms intervals
  registry_options.tick_period = std::chrono::milliseconds(50);
  metrics::MetricsRegistry registry(clock, registry_options);
  metrics::ControllerStatus status;

  gateway::GatewayOptions gateway_options;
  gateway_options.listen = config->inference_listen;
  gateway_options.threads = config->gateway_threads;
  gateway_options.max_body_bytes = config->max_body_bytes;
  gateway::Gateway gateway(gateway_options, registry, models::MakeModelBackendFactory());

  // The endpoints as the last deployments left them, else as configured.
  auto saved = (*store)->ListEndpoints();
  if (!saved) return Refuse(saved.error().message());
  std::map<std::string, core::Policy> policies;
  for (const config::EndpointConfig& e : config->endpoints) {
    policies[e.name] = e.policy;
    core::Endpoint endpoint{
        .name = e.name, .status = core::EndpointStatus::kInService, .variants = e.variants};
    for (const core::Endpoint& s : *saved) {
      if (s.name == e.name && !s.variants.empty()) endpoint = s;
    }
    if (auto s = gateway.router().AddEndpoint(endpoint); !s) {
      std::cerr << "mlcanary serve: endpoint '" << e.name << "': " << s.error().message() << "\n";
      return 1;
    }
    if (auto s = (*store)->SaveEndpoint(endpoint); !s) {
      std::cerr << "mlcanary serve: " << s.error().message() << "\n";
      return 1;
    }
  }

  notify::LogNotifier log_notifier([](std::string_view line) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  });
  std::unique_ptr<notify::WebhookNotifier> webhooks;
  std::vector<core::Notifier*> sinks{&log_notifier};
  if (!config->webhooks.empty()) {
    notify::WebhookOptions webhook_options;
    webhook_options.urls = config->webhooks;
    auto created = notify::WebhookNotifier::Create(webhook_options);
    if (!created) return Refuse("notifications.webhooks: " + created.error().message());
    webhooks = std::move(*created);
    sinks.push_back(webhooks.get());
  }
  StatusNotifier status_notifier(status);
  sinks.push_back(&status_notifier);
  notify::FanoutNotifier notifier(sinks);

  metrics::RegistryMetricsSource metrics_source(registry);
  controller::RetryOptions retry;
  retry.sleep = [](core::Duration d) { std::this_thread::sleep_for(d); };
  retry.random_bits = [] {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    return rng();
  };
  controller::Controller controller({.traffic = gateway.router(),
                                     .metrics = metrics_source,
                                     .store = **store,
                                     .notifier = notifier,
                                     .clock = clock,
                                     .retry = retry});
  if (auto s = controller.ReconcileAll(); !s) {
    spdlog::warn("reconcile at start-up: {}", s.error().ToString());
  }
  for (const auto& d : (*store)->List({}).value_or(std::vector<core::Deployment>{})) {
    status.Observe(d);
  }

  if (auto s = gateway.Start(); !s) {
    std::cerr << "mlcanary serve: listen.inference " << config->inference_listen << ": "
              << s.error().message() << "\n";
    return 1;
  }

  api::ApiOptions api_options;
  api_options.admin_token = admin_token;
  api_options.reader_token = reader_token;
  for (const auto& [name, policy] : policies) api_options.endpoint_policies[name] = policy;
  auto control_api = api::ControlApi::Create(
      api_options, {.controller = controller,
                    .store = **store,
                    .traffic = gateway.router(),
                    .new_deployment_id = NewDeploymentId,
                    .metrics_text = [&] { return metrics::RenderPrometheus(registry, &status); }});
  if (!control_api) return Refuse(control_api.error().message());
  http::ServerOptions http_options;
  http_options.listen = config->control_listen;
  http_options.name = "control-api";
  http::HttpServer control_server(http_options, (*control_api)->handler());
  if (auto s = control_server.Start(); !s) {
    std::cerr << "mlcanary serve: listen.control " << config->control_listen << ": "
              << s.error().message() << "\n";
    return 1;
  }

  controller::ControllerLoop loop(
      controller, config->controller_interval,
      [&](const core::Result<std::vector<controller::CheckOutcome>>& r) {
        if (!r) {
          spdlog::error("controller tick: {}", r.error().ToString());
          return;
        }
        for (const auto& o : *r) {
          if (!o.ran) continue;
          status.Observe(o.deployment);
          if (o.verdict) {
            status.RecordCheck(o.deployment.endpoint, *o.verdict);
          } else if (o.action == core::Action::kHold) {
            status.RecordCheckError(o.deployment.endpoint);
          }
        }
      });
  loop.Start();
  spdlog::info("mlcanary serve: inference on {} (port {}), control API on {} (port {}), store {}",
               config->inference_listen, gateway.port(), config->control_listen,
               control_server.port(), config->store);

  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("mlcanary serve: signal {} received, shutting down", received);
  loop.Stop();
  control_server.Shutdown();
  gateway.Shutdown();
  return 0;
}

}  // namespace mlcanary::app
