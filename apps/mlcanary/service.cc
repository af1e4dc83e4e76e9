// The wiring of both shapes: embedded (gateway) and SageMaker (AWS adapters).
#include "service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <tuple>

#include "api/control_api.h"
#include "aws/aws_client.h"
#include "controller/controller.h"
#include "controller/controller_loop.h"
#include "core/system_clock.h"
#include "fleet/endpoint_follower.h"
#include "fleet/leader_elector.h"
#include "fleet/store_traffic_control.h"
#include "gateway/gateway.h"
#include "gateway/router_mirror.h"
#include "hooks/http_hook_caller.h"
#include "http/http_server.h"
#include "metrics/controller_status.h"
#include "metrics/prometheus.h"
#include "metrics/registry.h"
#include "metrics/registry_metrics_source.h"
#include "models/backend_factory.h"
#include "notify/fanout_notifier.h"
#include "notify/log_notifier.h"
#include "notify/webhook_notifier.h"
#include "prometheus/prometheus_metrics_source.h"
#include "sagemaker/cloudwatch_metrics_source.h"
#include "sagemaker/runtime_backend.h"
#include "sagemaker/sagemaker_traffic_control.h"
#include "sagemaker/sns_notifier.h"
#include "store/dynamodb_deployment_store.h"
#include "store/postgres_deployment_store.h"
#include "store/postgres_url.h"
#include "store/sqlite_deployment_store.h"

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

// The AWS side of the configuration, resolved against the environment once.
struct AwsSetup {
  aws::Credentials credentials;
  std::string region;
};

core::Result<AwsSetup> ResolveAws(const config::ServiceConfig& config) {
  const aws::GetEnv env = aws::ProcessEnv();
  AwsSetup setup;
  setup.region = aws::LoadRegion(env, config.aws.region);
  auto credentials = aws::LoadCredentials(env);
  if (!credentials) return std::unexpected(credentials.error().WithContext("AWS credentials"));
  setup.credentials = std::move(*credentials);
  return setup;
}

// `key` is the service's name in aws.endpoint_urls.
aws::ClientOptions AwsClientOptions(const config::ServiceConfig& config, const AwsSetup& setup,
                                    const std::string& key) {
  aws::ClientOptions o;
  o.region = setup.region;
  o.credentials = setup.credentials;
  o.endpoint_url = config.aws.endpoint_url;
  if (auto it = config.aws.endpoint_urls.find(key); it != config.aws.endpoint_urls.end()) {
    o.endpoint_url = it->second;
  }
  o.timeout = config.aws.timeout;
  o.max_attempts = config.aws.max_attempts;
  return o;
}

core::Result<std::unique_ptr<aws::AwsClient>> MakeAwsClient(const config::ServiceConfig& config,
                                                            const AwsSetup& setup,
                                                            const aws::ServiceInfo& service,
                                                            const std::string& key) {
  auto client = aws::AwsClient::Create(service, AwsClientOptions(config, setup, key));
  if (!client) return std::unexpected(client.error().WithContext(service.name + " client"));
  return client;
}

void LogWarning(std::string_view line) { spdlog::warn("{}", line); }

// The first line of `text`: errors from libraries (XGBoost's with its stack
// trace) may span many; a start-up error is one line.
std::string FirstLine(std::string_view text) {
  return std::string(text.substr(0, text.find('\n')));
}

// `cause` at the configuration key that asked for what failed (ConfigKeyError):
// "serve.yaml: listen.control (line 3): cannot listen on ...".
core::Error AtKey(const config::ServiceConfig& config, std::string_view key,
                  const core::Error& cause) {
  return config::ConfigKeyError(config, key, FirstLine(cause.message()));
}

}  // namespace

// Fleet mode (a PostgreSQL store): what this replica builds while it is the
// controller's leader, for one term (one fencing number), and drops when it is
// deposed. Declared in the order they are built; destroyed in reverse.
struct LeaderTerm {
  std::int64_t fencing = 0;
  std::unique_ptr<core::DeploymentStore> store;  // fenced: refused once deposed
  std::unique_ptr<fleet::StoreTrafficControl> traffic;
  std::unique_ptr<controller::Controller> controller;
  std::unique_ptr<controller::ControllerLoop> loop;
};

// Declared in the order they are built; destroyed in reverse.
struct Service::Parts {
  core::SystemClock clock;
  std::optional<AwsSetup> aws;  // when anything talks to AWS
  std::unique_ptr<aws::AwsClient> dynamodb_client;
  std::unique_ptr<core::DeploymentStore> store;
  core::EventOutbox* outbox = nullptr;  // the store's; kUnimplemented on DynamoDB
  // Fleet mode: the store is PostgreSQL (the same object as `store`).
  store::PostgresDeploymentStore* postgres = nullptr;
  // Fleet mode: this replica runs the controller now; only then does it
  // deliver the webhooks (from the outbox's stored cursors).
  std::atomic<bool> leading{false};
  std::unique_ptr<metrics::MetricsRegistry> registry;
  metrics::ControllerStatus status;
  // The data plane: the gateway's router (embedded) or SageMaker.
  std::unique_ptr<gateway::Gateway> gateway;
  std::unique_ptr<aws::AwsClient> sagemaker_client;
  std::unique_ptr<aws::AwsClient> autoscaling_client;
  std::unique_ptr<aws::AwsClient> cloudwatch_client;
  std::unique_ptr<aws::AwsClient> sns_client;
  std::unique_ptr<sagemaker::SageMakerTrafficControl> sagemaker_traffic;
  // SageMaker mode with listen.inference: the gateway fronts SageMaker.
  std::shared_ptr<sagemaker::SageMakerRuntime> runtime;
  std::unique_ptr<gateway::RouterMirror> mirror;
  core::TrafficControl* traffic = nullptr;
  std::unique_ptr<notify::LogNotifier> log_notifier;
  std::unique_ptr<notify::WebhookNotifier> webhooks;
  std::unique_ptr<sagemaker::SnsNotifier> sns;
  std::unique_ptr<StatusNotifier> status_notifier;
  std::unique_ptr<notify::FanoutNotifier> notifier;
  std::unique_ptr<core::MetricsSource> metrics_source;
  // Calls the policies' hooks (issue 15) for every controller of this process.
  std::unique_ptr<hooks::HttpHookCaller> hook_caller;
  // Fleet mode: the control API's controller records (deployments PENDING,
  // user actions requested) through the endpoint records; the leader acts.
  std::unique_ptr<fleet::StoreTrafficControl> record_traffic;
  std::unique_ptr<controller::Controller> controller;
  std::unique_ptr<api::ControlApi> control_api;
  std::unique_ptr<http::HttpServer> control_server;
  std::unique_ptr<controller::ControllerLoop> loop;  // null in fleet mode
  // Fleet mode: this replica's router follows the endpoint records; the
  // elector runs a LeaderTerm while this replica holds the lease.
  core::Duration controller_interval{};
  std::vector<std::string> endpoint_names;  // the config's, for /metrics
  std::unique_ptr<core::ChangeFeed> feed;
  std::unique_ptr<fleet::EndpointFollower> follower;
  std::unique_ptr<core::LeaderLease> lease;
  std::mutex leader_mu;
  std::unique_ptr<LeaderTerm> leader;  // GUARDED_BY(leader_mu)
  std::unique_ptr<fleet::LeaderElector> elector;
  bool stopped = false;
};

namespace {

using Parts = Service::Parts;

// ---- Start's steps, in order ----------------------------------------------------

// AWS credentials and region, when anything talks to AWS (the SageMaker backend,
// a DynamoDB store, SNS).
core::Status ResolveAwsIfUsed(const config::ServiceConfig& config, const ServiceOptions&,
                              Parts& p) {
  const bool uses_aws = config.backend == config::Backend::kSagemaker ||
                        config.store.starts_with("dynamodb:") || !config.sns_topic_arn.empty();
  if (!uses_aws) return core::Ok();
  auto setup = ResolveAws(config);
  if (!setup) return std::unexpected(setup.error());
  p.aws = std::move(*setup);
  return core::Ok();
}

core::Status OpenStore(const config::ServiceConfig& config, const ServiceOptions&, Parts& p);

core::Status CreateRegistry(const config::ServiceConfig&, const ServiceOptions&, Parts& p) {
  p.registry = std::make_unique<metrics::MetricsRegistry>(p.clock, RegistryOptionsFor());
  return core::Ok();
}

core::Status StartEmbeddedDataPlane(const config::ServiceConfig& config, Parts& p);
core::Status StartSagemakerDataPlane(const config::ServiceConfig& config, Parts& p);

// The gateway and its registry (embedded), or SageMaker and CloudWatch.
core::Status StartDataPlane(const config::ServiceConfig& config, const ServiceOptions&, Parts& p) {
  return config.backend == config::Backend::kSagemaker ? StartSagemakerDataPlane(config, p)
                                                       : StartEmbeddedDataPlane(config, p);
}

// Webhooks: at least once from the store's outbox; a store without one
// (DynamoDB) keeps the in-memory queue: at most once. Without webhooks the
// outbox keeps nothing, and the cursors of webhooks no longer configured go.
core::Status AddWebhooks(const config::ServiceConfig& config, Parts& p,
                         std::vector<core::Notifier*>& sinks) {
  if (config.webhooks.empty()) {
    if (p.outbox == nullptr) return core::Ok();
    auto s = p.outbox->SetSinks({});
    if (!s && s.error().code() != core::ErrorCode::kUnimplemented) {
      return std::unexpected(s.error().WithContext("store " + config.store));
    }
    return core::Ok();
  }
  notify::WebhookOptions webhook_options;
  webhook_options.urls = config.webhooks;
  webhook_options.log = LogWarning;
  webhook_options.outbox = p.outbox;
  if (p.postgres != nullptr) {
    // Fleet mode: every replica has the same webhooks; the leader delivers.
    const Parts* parts = &p;
    webhook_options.active = [parts] { return parts->leading.load(); };
  }
  auto created = notify::WebhookNotifier::Create(webhook_options);
  if (!created && created.error().code() == core::ErrorCode::kUnimplemented) {
    spdlog::warn("notifications.webhooks: {}; webhooks are delivered at most once",
                 created.error().message());
    webhook_options.outbox = nullptr;
    created = notify::WebhookNotifier::Create(webhook_options);
  }
  if (!created) return std::unexpected(created.error().WithContext("notifications.webhooks"));
  p.webhooks = std::move(*created);
  sinks.push_back(p.webhooks.get());
  return core::Ok();
}

core::Status AddSns(const config::ServiceConfig& config, Parts& p,
                    std::vector<core::Notifier*>& sinks) {
  if (config.sns_topic_arn.empty()) return core::Ok();
  auto client = MakeAwsClient(config, *p.aws, aws::SnsService(), "sns");
  if (!client) return std::unexpected(client.error());
  p.sns_client = std::move(*client);
  sagemaker::SnsOptions sns_options;
  sns_options.topic_arn = config.sns_topic_arn;
  sns_options.log = LogWarning;
  auto sns = sagemaker::SnsNotifier::Create(*p.sns_client, sns_options);
  if (!sns) return std::unexpected(sns.error().WithContext("notifications.sns_topic_arn"));
  p.sns = std::move(*sns);
  sinks.push_back(p.sns.get());
  return core::Ok();
}

// Every announced event goes to the event log, the webhooks, SNS and the
// /metrics view, in that order.
core::Status StartNotifiers(const config::ServiceConfig& config, const ServiceOptions& options,
                            Parts& p) {
  p.log_notifier = std::make_unique<notify::LogNotifier>(
      options.event_log ? options.event_log : [](std::string_view) {});
  std::vector<core::Notifier*> sinks{p.log_notifier.get()};
  if (auto s = AddWebhooks(config, p, sinks); !s) return s;
  if (auto s = AddSns(config, p, sinks); !s) return s;
  p.status_notifier = std::make_unique<StatusNotifier>(p.status);
  sinks.push_back(p.status_notifier.get());
  p.notifier = std::make_unique<notify::FanoutNotifier>(sinks);
  return core::Ok();
}

// Retries sleep on the calling thread, with jitter from a random generator.
controller::RetryOptions ThreadRetries() {
  controller::RetryOptions retry;
  retry.sleep = [](core::Duration d) { std::this_thread::sleep_for(d); };
  retry.random_bits = [] {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    return rng();
  };
  return retry;
}

// One check's outcome in the log and the /metrics view.
void ReportOutcome(Parts& p, const controller::CheckOutcome& o) {
  if (!o.ran) return;
  if (o.unreadable) {
    // Skipped by the controller: every other deployment goes on.
    spdlog::error(
        "deployment {} (endpoint '{}'): the store cannot read its record; the controller "
        "skips it: {}",
        o.deployment_id, o.deployment.endpoint, o.error ? o.error->ToString() : "");
    p.status.RecordCheckError(o.deployment.endpoint, o.error ? o.error->ToString() : o.reason,
                              p.clock.Now());
    return;
  }
  p.status.Observe(o.deployment);
  if (!o.error) {
    if (o.verdict) p.status.RecordCheck(o.deployment.endpoint, *o.verdict);
    return;
  }
  // Every failed check is logged and counted, whether or not the store could record it.
  spdlog::error("deployment {} (endpoint '{}'): check failed: {}", o.deployment_id,
                o.deployment.endpoint, o.error->ToString());
  p.status.RecordCheckError(o.deployment.endpoint, o.error->ToString(), p.clock.Now());
  if (o.unrecorded_rollback) {
    spdlog::error(
        "deployment {} (endpoint '{}'): {} with traffic on production; the store did "
        "not take the record, written when it can be",
        o.deployment_id, o.deployment.endpoint,
        o.action == core::Action::kFail ? "failed" : "rolled back");
    p.status.RecordUnrecordedRollback(o.deployment.endpoint);
  }
}

void ReportTick(Parts& p, const core::Result<std::vector<controller::CheckOutcome>>& r) {
  if (!r) {
    spdlog::error("controller tick: {}", r.error().ToString());
    return;
  }
  for (const auto& o : *r) ReportOutcome(p, o);
}

// The controller on the ports, and its loop. Readying a SageMaker canary takes
// minutes: the API answers PENDING at once and the loop (a worker per
// deployment) does the rest.
core::Status CreateController(const config::ServiceConfig& config, const ServiceOptions&,
                              Parts& p) {
  p.controller_interval = config.controller_interval;
  for (const config::EndpointConfig& e : config.endpoints) p.endpoint_names.push_back(e.name);
  auto hook_caller = hooks::HttpHookCaller::Create();
  if (!hook_caller) return std::unexpected(hook_caller.error().WithContext("hooks"));
  p.hook_caller = std::move(*hook_caller);
  if (p.postgres != nullptr) {
    // Fleet mode: this controller only records (StartDeployment records
    // PENDING, the API asks for user actions with Request); the leader's
    // controller, woken by the store's change feed, does the rest.
    p.record_traffic = std::make_unique<fleet::StoreTrafficControl>(*p.store, *p.traffic, nullptr);
    p.controller =
        std::make_unique<controller::Controller>(controller::Ports{.traffic = *p.record_traffic,
                                                                   .metrics = *p.metrics_source,
                                                                   .store = *p.store,
                                                                   .notifier = *p.notifier,
                                                                   .clock = p.clock,
                                                                   .retry = ThreadRetries(),
                                                                   .start_in_background = true,
                                                                   .hooks = p.hook_caller.get()});
    return core::Ok();
  }
  const bool background_start = config.backend == config::Backend::kSagemaker;
  Parts* parts = &p;
  p.controller = std::make_unique<controller::Controller>(
      controller::Ports{.traffic = *p.traffic,
                        .metrics = *p.metrics_source,
                        .store = *p.store,
                        .notifier = *p.notifier,
                        .clock = p.clock,
                        .retry = ThreadRetries(),
                        .start_in_background = background_start,
                        .wake = [parts] { parts->loop->Wake(); },
                        .hooks = p.hook_caller.get()});
  p.loop = std::make_unique<controller::ControllerLoop>(
      *p.controller, config.controller_interval,
      [parts](const core::Result<std::vector<controller::CheckOutcome>>& r) {
        ReportTick(*parts, r);
      },
      // Each deployment's check on a worker of its own: a slow SageMaker update or a
      // slow hook of one deployment holds up no other deployment's checks or rollback.
      controller::ControllerLoopOptions{.worker_per_deployment = true});
  return core::Ok();
}

// The data plane as the stored deployments left it; then /metrics sees every
// readable deployment (the reconcile names the records the store cannot read).
core::Status Reconcile(const config::ServiceConfig&, const ServiceOptions&, Parts& p) {
  // Fleet mode: the leader reconciles when it is elected.
  if (p.postgres == nullptr) {
    if (auto s = p.controller->ReconcileAll(); !s) {
      spdlog::warn("reconcile at start-up: {}", s.error().ToString());
    }
  }
  if (auto all = p.store->ListReadable({})) {
    for (const auto& d : all->deployments) p.status.Observe(d);
  }
  return core::Ok();
}

core::Status StartGateway(const config::ServiceConfig& config, const ServiceOptions&, Parts& p) {
  if (!p.gateway) return core::Ok();
  if (auto s = p.gateway->Start(); !s) {
    return std::unexpected(AtKey(config, "listen.inference", s.error()));
  }
  return core::Ok();
}

void LogHttp(http::LogLevel level, std::string_view line) {
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
}

// Fleet mode: how long a user action (or a new deployment) asked on any
// replica waits for the leader to carry it out before the API answers 202
// (PENDING for a new deployment); the leader goes on after the answer.
constexpr core::Duration kLeaderActionWait = std::chrono::seconds(5);

// Fleet mode: this replica's role and its follower's counters, after the
// registry's families in GET /metrics.
std::string FleetMetrics(Parts& p) {
  if (p.postgres == nullptr) return "";
  const bool leading = p.elector != nullptr && p.elector->leading();
  const fleet::FollowerStats stats =
      p.follower != nullptr ? p.follower->stats() : fleet::FollowerStats{};
  std::string out;
  // What this replica's router serves (it follows the store's records; read
  // without the store, so it shows while the database is away).
  out +=
      "# HELP mlcanary_fleet_variant_weight The weight this replica's router gives each "
      "variant.\n# TYPE mlcanary_fleet_variant_weight gauge\n";
  for (const std::string& name : p.endpoint_names) {
    auto served = p.traffic->DescribeEndpoint(name);
    if (!served) continue;
    for (const core::Variant& v : served->variants) {
      out += "mlcanary_fleet_variant_weight{endpoint=\"" + name + "\",variant=\"" + v.name +
             "\"} " + fmt::format("{}", v.weight) + "\n";
    }
  }
  out +=
      "# HELP mlcanary_fleet_leader 1 while this replica holds the controller's lease and runs "
      "the controller.\n# TYPE mlcanary_fleet_leader gauge\nmlcanary_fleet_leader ";
  out += leading ? "1\n" : "0\n";
  out +=
      "# HELP mlcanary_fleet_endpoint_syncs_total Reads of the store's endpoint records applied "
      "to this replica's router.\n# TYPE mlcanary_fleet_endpoint_syncs_total "
      "counter\nmlcanary_fleet_endpoint_syncs_total " +
      std::to_string(stats.syncs) + "\n";
  out +=
      "# HELP mlcanary_fleet_endpoint_sync_errors_total Syncs that failed (the router kept its "
      "last weights).\n# TYPE mlcanary_fleet_endpoint_sync_errors_total "
      "counter\nmlcanary_fleet_endpoint_sync_errors_total " +
      std::to_string(stats.errors) + "\n";
  return out;
}

// The control API (tokens, each endpoint's policy) on its HTTP server.
core::Status StartControlApi(const config::ServiceConfig& config, const ServiceOptions& options,
                             Parts& p) {
  api::ApiOptions api_options;
  api_options.admin_token = options.admin_token;
  api_options.reader_token = options.reader_token;
  for (const config::EndpointConfig& e : config.endpoints) {
    api_options.endpoint_policies[e.name] = e.policy;
  }
  // Fleet mode: user actions are recorded for the leader (see ApiOptions).
  if (p.postgres != nullptr) api_options.leader_action_wait = kLeaderActionWait;
  Parts* parts = &p;
  auto control_api = api::ControlApi::Create(
      api_options, {.controller = *p.controller,
                    .store = *p.store,
                    .traffic = *p.traffic,
                    .new_deployment_id = NewDeploymentId,
                    .metrics_text = [parts] {
                      std::string text =
                          metrics::RenderPrometheus(*parts->registry, &parts->status);
                      if (parts->hook_caller != nullptr) {
                        metrics::AppendHookMetrics(parts->hook_caller->Counts(), text);
                      }
                      return text + FleetMetrics(*parts);
                    }});
  if (!control_api) return std::unexpected(control_api.error());
  p.control_api = std::move(*control_api);
  http::ServerOptions http_options;
  http_options.listen = config.control_listen;
  http_options.max_connections = config.control_max_connections;
  http_options.name = "control-api";
  http_options.log = LogHttp;
  p.control_server = std::make_unique<http::HttpServer>(http_options, p.control_api->handler());
  if (auto s = p.control_server->Start(); !s) {
    return std::unexpected(AtKey(config, "listen.control", s.error()));
  }
  return core::Ok();
}

// Fleet mode, on being elected: a controller on the store fenced with this
// term's number, its traffic written as endpoint records (this replica's
// router follows them like every other's), brought in line with the stored
// deployments (it carries on where the last leader stopped: the store holds
// every step taken), and its loop.
void BecomeLeader(Parts& p, std::int64_t fencing) {
  auto term = std::make_unique<LeaderTerm>();
  term->fencing = fencing;
  term->store = p.postgres->Fenced(fencing);
  fleet::EndpointFollower* follower = p.follower.get();
  term->traffic = std::make_unique<fleet::StoreTrafficControl>(
      *term->store, *p.traffic, [follower] { return follower->SyncOnce(); });
  LeaderTerm* t = term.get();
  Parts* parts = &p;
  term->controller =
      std::make_unique<controller::Controller>(controller::Ports{.traffic = *term->traffic,
                                                                 .metrics = *p.metrics_source,
                                                                 .store = *term->store,
                                                                 .notifier = *p.notifier,
                                                                 .clock = p.clock,
                                                                 .retry = ThreadRetries(),
                                                                 .start_in_background = true,
                                                                 .wake =
                                                                     [t] {
                                                                       if (t->loop) t->loop->Wake();
                                                                     },
                                                                 .hooks = p.hook_caller.get()});
  term->loop = std::make_unique<controller::ControllerLoop>(
      *term->controller, p.controller_interval,
      [parts](const core::Result<std::vector<controller::CheckOutcome>>& r) {
        ReportTick(*parts, r);
      },
      controller::ControllerLoopOptions{.worker_per_deployment = true});
  if (auto s = term->controller->ReconcileAll(); !s) {
    spdlog::warn("fleet: reconcile on becoming leader: {}", s.error().ToString());
  }
  term->loop->Start();
  {
    std::lock_guard lock(p.leader_mu);
    p.leader = std::move(term);
  }
  p.leading = true;  // the webhooks resume from the outbox's stored cursors
  if (p.webhooks) p.webhooks->Wake();
}

// Fleet mode, on being deposed (or stopping): the controller loop stops at
// once (the tick in progress ends; its writes are refused by the fence).
void StepDown(Parts& p) {
  p.leading = false;
  std::unique_ptr<LeaderTerm> term;
  {
    std::lock_guard lock(p.leader_mu);
    term = std::move(p.leader);
  }
  if (term) term->loop->Stop();
}

// This replica's name in the lease: "<hostname>:<control port>".
std::string HolderName(const Parts& p) {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
    std::snprintf(host, sizeof(host), "localhost");
  }
  return std::string(host) + ":" + std::to_string(p.control_server->port());
}

// Fleet mode: the router follows the store's endpoint records (woken by the
// change feed), and the elector runs the controller while this replica holds
// the lease.
core::Status StartFleet(const config::ServiceConfig& config, Parts& p) {
  auto feed = p.postgres->OpenChangeFeed();
  if (!feed) return std::unexpected(AtKey(config, "store", feed.error()));
  p.feed = std::move(*feed);
  Parts* parts = &p;
  p.follower = std::make_unique<fleet::EndpointFollower>(
      *p.store, p.feed.get(), *p.traffic,
      fleet::FollowerOptions{.log = LogWarning, .on_change = [parts] {
                               // A record another replica wrote (a new
                               // deployment, a user action): the leader acts now.
                               std::lock_guard lock(parts->leader_mu);
                               if (parts->leader) parts->leader->loop->Wake();
                             }});
  if (auto s = p.follower->SyncOnce(); !s) {
    spdlog::warn("fleet: first sync of the endpoint records: {}", s.error().ToString());
  }
  p.follower->Start();
  p.lease = p.postgres->Lease();
  const std::string holder = HolderName(p);
  p.elector = std::make_unique<fleet::LeaderElector>(
      *p.lease,
      fleet::ElectorOptions{.holder = holder,
                            .ttl = config.controller_lease,
                            .log = [](std::string_view line) { spdlog::warn("{}", line); }},
      [parts, holder](std::int64_t fencing) {
        spdlog::info("fleet: {} is the controller's leader now (fencing {})", holder, fencing);
        BecomeLeader(*parts, fencing);
      },
      [parts, holder](std::string_view why) {
        StepDown(*parts);
        spdlog::info("fleet: {} is no longer the controller's leader: {}", holder, why);
      });
  p.elector->Start();
  spdlog::info(
      "fleet: replica {} on {}, lease {} ms", holder, store::RedactPostgresUrl(config.store),
      std::chrono::duration_cast<std::chrono::milliseconds>(config.controller_lease).count());
  return core::Ok();
}

core::Status StartLoop(const config::ServiceConfig& config, const ServiceOptions&, Parts& p) {
  if (p.postgres != nullptr) return StartFleet(config, p);
  p.loop->Start();
  return core::Ok();
}

}  // namespace

core::Result<std::unique_ptr<Service>> Service::Start(const config::ServiceConfig& config,
                                                      ServiceOptions options) {
  using Step = core::Status (*)(const config::ServiceConfig&, const ServiceOptions&, Parts&);
  static constexpr Step kSteps[] = {
      ResolveAwsIfUsed, OpenStore, CreateRegistry, StartDataPlane,  StartNotifiers,
      CreateController, Reconcile, StartGateway,   StartControlApi, StartLoop,
  };
  auto p = std::make_unique<Parts>();
  for (Step step : kSteps) {
    if (auto s = step(config, options, *p); !s) return std::unexpected(s.error());
  }
  return std::unique_ptr<Service>(new Service(std::move(p)));
}

namespace {

core::Status OpenStore(const config::ServiceConfig& config, const ServiceOptions&, Parts& p) {
  if (config.store.starts_with("dynamodb:")) {
    store::DynamoDbStoreOptions options;
    options.client = AwsClientOptions(config, *p.aws, "dynamodb");
    options.table = config.store.substr(std::string("dynamodb:").size());
    auto store = store::DynamoDbDeploymentStore::Open(options);
    if (!store) return std::unexpected(store.error().WithContext("store " + config.store));
    p.outbox = store->get();
    p.store = std::move(*store);
    return core::Ok();
  }
  if (store::IsPostgresUrl(config.store)) {
    auto store = store::PostgresDeploymentStore::Open(config.store);
    if (!store) return std::unexpected(AtKey(config, "store", store.error()));
    p.outbox = store->get();
    p.postgres = store->get();
    p.store = std::move(*store);
    return core::Ok();
  }
  auto store =
      store::SqliteDeploymentStore::Open(config.store.substr(std::string("sqlite:").size()));
  if (!store) return std::unexpected(AtKey(config, "store", store.error()));
  p.outbox = store->get();
  p.store = std::move(*store);
  return core::Ok();
}

// Why the gateway could not add endpoints[index] at start. A model that does
// not load is named by its key in the file ("endpoints[0].variants[1].model.path
// (line 14): ..."), or as a variant restored from the store when the last
// deployment left one the file does not list. The router stops at the first
// variant that fails; loading them again one by one (only on this path) finds it.
core::Error EndpointStartError(const config::ServiceConfig& config, std::size_t index,
                               const core::Endpoint& endpoint, const core::Error& cause) {
  const config::EndpointConfig& configured = config.endpoints[index];
  const models::ModelBackendFactory load = models::MakeModelBackendFactory();
  for (const core::Variant& v : endpoint.variants) {
    auto backend = load(v.model);
    if (backend) continue;
    const std::string reason = FirstLine(backend.error().message());
    for (std::size_t j = 0; j < configured.variants.size(); ++j) {
      const core::Variant& c = configured.variants[j];
      if (c.name != v.name || c.model != v.model) continue;
      const std::string key = "endpoints[" + std::to_string(index) + "].variants[" +
                              std::to_string(j) + "].model." +
                              (v.model.kind == core::ModelKind::kHttp ? "url" : "path");
      return config::ConfigKeyError(config, key, reason);
    }
    return core::Error(backend.error().code(), "endpoint '" + endpoint.name + "': variant '" +
                                                   v.name + "' (restored from the store, " +
                                                   config.store + "): " + reason);
  }
  return core::Error(cause.code(), "endpoints[" + std::to_string(index) + "] ('" + endpoint.name +
                                       "'): " + FirstLine(cause.message()));
}

// The gateway serves the configured endpoints (as the last deployments left
// them) and records the metrics the controller reads.
core::Status StartEmbeddedDataPlane(const config::ServiceConfig& config, Parts& p) {
  gateway::GatewayOptions gateway_options;
  gateway_options.listen = config.inference_listen;
  gateway_options.threads = config.gateway_threads;
  gateway_options.max_body_bytes = config.max_body_bytes;
  gateway_options.max_connections = config.inference_max_connections;
  p.gateway = std::make_unique<gateway::Gateway>(gateway_options, *p.registry,
                                                 models::MakeModelBackendFactory());
  p.traffic = &p.gateway->router();
  if (config.metrics.source == config::MetricsSource::kPrometheus) {
    auto source = prometheus::MakePrometheusMetricsSource(
        {.url = config.metrics.url, .job = config.metrics.job, .timeout = config.metrics.timeout});
    if (!source) return std::unexpected(AtKey(config, "metrics.url", source.error()));
    p.metrics_source = std::move(*source);
  } else {
    p.metrics_source = std::make_unique<metrics::RegistryMetricsSource>(*p.registry);
  }

  auto saved = p.store->ListEndpoints();
  if (!saved) return std::unexpected(saved.error());
  for (std::size_t i = 0; i < config.endpoints.size(); ++i) {
    const config::EndpointConfig& e = config.endpoints[i];
    core::Endpoint endpoint{
        .name = e.name, .status = core::EndpointStatus::kInService, .variants = e.variants};
    bool recorded = false;
    for (const core::Endpoint& s : *saved) {
      if (s.name == e.name && !s.variants.empty()) {
        endpoint = s;
        recorded = true;
      }
    }
    if (auto s = p.gateway->router().AddEndpoint(endpoint); !s) {
      return std::unexpected(EndpointStartError(config, i, endpoint, s.error()));
    }
    // Fleet mode: the record is the leader's to change; the first replica
    // to start seeds it from the file (writing back what was read could undo
    // a change the leader committed meanwhile).
    if (p.postgres != nullptr && recorded) continue;
    if (auto s = p.store->SaveEndpoint(endpoint); !s) return std::unexpected(s.error());
  }
  return core::Ok();
}

// listen.inference with backend: sagemaker: the gateway takes the inference API,
// picks the variant (its router, a copy of the endpoints kept by RouterMirror,
// which the controller changes through) and calls InvokeEndpoint naming it.
core::Status StartSagemakerFront(const config::ServiceConfig& config, Parts& p) {
  const config::SagemakerInferenceConfig& f = config.sagemaker.inference;
  aws::ClientOptions client_options = AwsClientOptions(config, *p.aws, "sagemaker-runtime");
  client_options.max_idle_handles = static_cast<std::size_t>(f.threads);
  auto client = aws::AwsClient::Create(aws::SageMakerRuntimeService(), client_options);
  if (!client) return std::unexpected(client.error().WithContext("SageMaker Runtime client"));
  sagemaker::RuntimeOptions options;
  options.timeout = f.timeout;
  options.variant_timeouts = f.variant_timeouts;
  options.max_attempts = f.max_attempts;
  options.threads = f.threads;
  auto runtime = sagemaker::SageMakerRuntime::Create(std::move(*client), options);
  if (!runtime) return std::unexpected(runtime.error().WithContext("sagemaker.inference"));
  p.runtime = *runtime;

  gateway::GatewayOptions gateway_options;
  gateway_options.listen = config.inference_listen;
  gateway_options.threads = config.gateway_threads;
  gateway_options.max_body_bytes = config.max_body_bytes;
  gateway_options.max_connections = config.inference_max_connections;
  p.gateway = std::make_unique<gateway::Gateway>(
      gateway_options, *p.registry,
      [](const core::ModelSpec&) -> core::Result<std::unique_ptr<models::ModelBackend>> {
        return core::ValidationError("with backend: sagemaker, SageMaker serves every variant");
      });
  sagemaker::SageMakerRuntime* rt = p.runtime.get();
  p.mirror = std::make_unique<gateway::RouterMirror>(
      *p.sagemaker_traffic, p.gateway->router(),
      gateway::RouterMirrorOptions{
          .make_backend = [rt](const std::string& endpoint,
                               const core::Variant& v) { return rt->Backend(endpoint, v.name); },
          .log = LogWarning});
  p.traffic = p.mirror.get();
  return core::Ok();
}

// SageMaker serves; CloudWatch measures. Each configured endpoint must exist.
core::Status StartSagemakerDataPlane(const config::ServiceConfig& config, Parts& p) {
  for (auto [client, service, key] :
       {std::tuple{&p.sagemaker_client, &aws::SageMakerService(), "sagemaker"},
        std::tuple{&p.autoscaling_client, &aws::AutoScalingService(), "autoscaling"},
        std::tuple{&p.cloudwatch_client, &aws::CloudWatchService(), "cloudwatch"}}) {
    auto made = MakeAwsClient(config, *p.aws, *service, key);
    if (!made) return std::unexpected(made.error());
    *client = std::move(*made);
  }
  sagemaker::SageMakerOptions options;
  options.poll_interval = config.sagemaker.poll_interval;
  options.wait_timeout = config.sagemaker.wait_timeout;
  options.delete_old_configs = config.sagemaker.delete_old_configs;
  const config::AutoScalingConfig& as = config.sagemaker.autoscaling;
  options.autoscaling = {.enabled = as.enabled,
                         .min_capacity = as.min_capacity,
                         .max_capacity = as.max_capacity,
                         .target_invocations = as.target_invocations_per_instance,
                         .scale_out_cooldown = as.scale_out_cooldown,
                         .scale_in_cooldown = as.scale_in_cooldown};
  options.clock = &p.clock;
  options.log = LogWarning;
  auto traffic = sagemaker::SageMakerTrafficControl::Create(*p.sagemaker_client,
                                                            *p.autoscaling_client, options);
  if (!traffic) return std::unexpected(traffic.error().WithContext("sagemaker"));
  p.sagemaker_traffic = std::move(*traffic);
  p.traffic = p.sagemaker_traffic.get();

  if (config.sagemaker.inference.enabled) {
    if (auto s = StartSagemakerFront(config, p); !s) return s;
  }

  p.metrics_source = std::make_unique<sagemaker::CloudWatchMetricsSource>(
      *p.cloudwatch_client, sagemaker::VariantsFrom(*p.traffic));

  for (const config::EndpointConfig& e : config.endpoints) {
    auto endpoint = p.traffic->DescribeEndpoint(e.name);
    if (!endpoint) {
      return std::unexpected(endpoint.error().WithContext("endpoints: SageMaker endpoint '" +
                                                          e.name + "' in " + p.aws->region));
    }
    if (auto s = p.store->SaveEndpoint(*endpoint); !s) return std::unexpected(s.error());
    if (p.mirror) {
      if (auto s = p.mirror->Follow(e.name); !s) {
        return std::unexpected(
            s.error().WithContext("listen.inference: endpoint '" + e.name + "'"));
      }
    }
  }
  if (p.mirror) p.mirror->StartRefreshing(config.sagemaker.inference.refresh_interval);
  return core::Ok();
}

}  // namespace

Service::Service(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

Service::~Service() { Stop(); }

std::uint16_t Service::inference_port() const {
  return parts_->gateway ? parts_->gateway->port() : 0;
}
std::uint16_t Service::control_port() const { return parts_->control_server->port(); }

void Service::Stop() {
  if (parts_->stopped) return;
  parts_->stopped = true;
  // Fleet mode: step down and release the lease (another replica takes over
  // at once), then stop following the records.
  if (parts_->elector) parts_->elector->Stop();
  if (parts_->follower) parts_->follower->Stop();
  if (parts_->loop) parts_->loop->Stop();
  parts_->control_server->Shutdown();
  if (parts_->mirror) parts_->mirror->Stop();
  if (parts_->gateway) parts_->gateway->Shutdown();
  if (parts_->webhooks) parts_->webhooks->Stop();
  if (parts_->sns) parts_->sns->Stop();
}

}  // namespace mlcanary::app
