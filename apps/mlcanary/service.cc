// The embedded shape's wiring.
#include "service.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <map>
#include <random>
#include <thread>

#include "api/control_api.h"
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

metrics::RegistryOptions RegistryOptionsFor() {
  metrics::RegistryOptions o;
  o.interval = std::chrono::milliseconds(100);  // windows exact to 100 ms
  o.slots = 6000;                               // 10 minutes of history
  o.tick_period = std::chrono::milliseconds(50);
  return o;
}

}  // namespace

// Declared in the order they are built; destroyed in reverse.
struct Service::Parts {
  util::SystemClock clock;
  std::unique_ptr<store::SqliteDeploymentStore> store;
  std::unique_ptr<metrics::MetricsRegistry> registry;
  metrics::ControllerStatus status;
  std::unique_ptr<gateway::Gateway> gateway;
  std::unique_ptr<notify::LogNotifier> log_notifier;
  std::unique_ptr<notify::WebhookNotifier> webhooks;
  std::unique_ptr<StatusNotifier> status_notifier;
  std::unique_ptr<notify::FanoutNotifier> notifier;
  std::unique_ptr<metrics::RegistryMetricsSource> metrics_source;
  std::unique_ptr<controller::Controller> controller;
  std::unique_ptr<api::ControlApi> control_api;
  std::unique_ptr<http::HttpServer> control_server;
  std::unique_ptr<controller::ControllerLoop> loop;
  bool stopped = false;
};

core::Result<std::unique_ptr<Service>> Service::Start(const config::ServiceConfig& config,
                                                      ServiceOptions options) {
  auto p = std::make_unique<Parts>();
  auto store =
      store::SqliteDeploymentStore::Open(config.store.substr(std::string("sqlite:").size()));
  if (!store) return std::unexpected(store.error().WithContext("store " + config.store));
  p->store = std::move(*store);
  p->registry = std::make_unique<metrics::MetricsRegistry>(p->clock, RegistryOptionsFor());

  gateway::GatewayOptions gateway_options;
  gateway_options.listen = config.inference_listen;
  gateway_options.threads = config.gateway_threads;
  gateway_options.max_body_bytes = config.max_body_bytes;
  p->gateway = std::make_unique<gateway::Gateway>(gateway_options, *p->registry,
                                                  models::MakeModelBackendFactory());

  // The endpoints as the last deployments left them, else as configured.
  auto saved = p->store->ListEndpoints();
  if (!saved) return std::unexpected(saved.error());
  std::map<std::string, core::Policy, std::less<>> policies;
  for (const config::EndpointConfig& e : config.endpoints) {
    policies[e.name] = e.policy;
    core::Endpoint endpoint{
        .name = e.name, .status = core::EndpointStatus::kInService, .variants = e.variants};
    for (const core::Endpoint& s : *saved) {
      if (s.name == e.name && !s.variants.empty()) endpoint = s;
    }
    if (auto s = p->gateway->router().AddEndpoint(endpoint); !s) {
      return std::unexpected(s.error().WithContext("endpoint '" + e.name + "'"));
    }
    if (auto s = p->store->SaveEndpoint(endpoint); !s) return std::unexpected(s.error());
  }

  p->log_notifier = std::make_unique<notify::LogNotifier>(
      options.event_log ? options.event_log : [](std::string_view) {});
  std::vector<core::Notifier*> sinks{p->log_notifier.get()};
  if (!config.webhooks.empty()) {
    notify::WebhookOptions webhook_options;
    webhook_options.urls = config.webhooks;
    webhook_options.log = [](std::string_view line) { spdlog::warn("{}", line); };
    auto created = notify::WebhookNotifier::Create(webhook_options);
    if (!created) return std::unexpected(created.error().WithContext("notifications.webhooks"));
    p->webhooks = std::move(*created);
    sinks.push_back(p->webhooks.get());
  }
  p->status_notifier = std::make_unique<StatusNotifier>(p->status);
  sinks.push_back(p->status_notifier.get());
  p->notifier = std::make_unique<notify::FanoutNotifier>(sinks);

  p->metrics_source = std::make_unique<metrics::RegistryMetricsSource>(*p->registry);
  controller::RetryOptions retry;
  retry.sleep = [](core::Duration d) { std::this_thread::sleep_for(d); };
  retry.random_bits = [] {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    return rng();
  };
  p->controller =
      std::make_unique<controller::Controller>(controller::Ports{.traffic = p->gateway->router(),
                                                                 .metrics = *p->metrics_source,
                                                                 .store = *p->store,
                                                                 .notifier = *p->notifier,
                                                                 .clock = p->clock,
                                                                 .retry = retry});
  if (auto s = p->controller->ReconcileAll(); !s) {
    spdlog::warn("reconcile at start-up: {}", s.error().ToString());
  }
  for (const auto& d : p->store->List({}).value_or(std::vector<core::Deployment>{})) {
    p->status.Observe(d);
  }

  if (auto s = p->gateway->Start(); !s) {
    return std::unexpected(s.error().WithContext("listen.inference " + config.inference_listen));
  }

  api::ApiOptions api_options;
  api_options.admin_token = options.admin_token;
  api_options.reader_token = options.reader_token;
  for (const auto& [name, policy] : policies) api_options.endpoint_policies[name] = policy;
  Parts* parts = p.get();
  auto control_api = api::ControlApi::Create(api_options, {.controller = *p->controller,
                                                           .store = *p->store,
                                                           .traffic = p->gateway->router(),
                                                           .new_deployment_id = NewDeploymentId,
                                                           .metrics_text = [parts] {
                                                             return metrics::RenderPrometheus(
                                                                 *parts->registry, &parts->status);
                                                           }});
  if (!control_api) return std::unexpected(control_api.error());
  p->control_api = std::move(*control_api);
  http::ServerOptions http_options;
  http_options.listen = config.control_listen;
  http_options.name = "control-api";
  http_options.log = [](http::LogLevel level, std::string_view line) {
    switch (level) {
      case http::LogLevel::kInfo:
        spdlog::info("{}", line);
        break;
      case http::LogLevel::kWarning:
        spdlog::warn("{}", line);
        break;
      case http::LogLevel::kError:
        spdlog::error("{}", line);
        break;
    }
  };
  p->control_server = std::make_unique<http::HttpServer>(http_options, p->control_api->handler());
  if (auto s = p->control_server->Start(); !s) {
    return std::unexpected(s.error().WithContext("listen.control " + config.control_listen));
  }

  p->loop = std::make_unique<controller::ControllerLoop>(
      *p->controller, config.controller_interval,
      [parts](const core::Result<std::vector<controller::CheckOutcome>>& r) {
        if (!r) {
          spdlog::error("controller tick: {}", r.error().ToString());
          return;
        }
        for (const auto& o : *r) {
          if (!o.ran) continue;
          parts->status.Observe(o.deployment);
          if (o.verdict) {
            parts->status.RecordCheck(o.deployment.endpoint, *o.verdict);
          } else if (o.action == core::Action::kHold) {
            parts->status.RecordCheckError(o.deployment.endpoint);
          }
        }
      });
  p->loop->Start();
  return std::unique_ptr<Service>(new Service(std::move(p)));
}

Service::Service(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

Service::~Service() { Stop(); }

std::uint16_t Service::inference_port() const { return parts_->gateway->port(); }
std::uint16_t Service::control_port() const { return parts_->control_server->port(); }

void Service::Stop() {
  if (parts_->stopped) return;
  parts_->stopped = true;
  parts_->loop->Stop();
  parts_->control_server->Shutdown();
  parts_->gateway->Shutdown();
  if (parts_->webhooks) parts_->webhooks->Stop();
}

}  // namespace mlcanary::app
