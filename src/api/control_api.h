// ControlApi: the control REST API of API.md ("Control API") as an
// http::Handler -- endpoints, deployments and their events, user actions,
// /metrics, /v1/openapi.json and /healthz, behind bearer-token auth.
#ifndef MLCANARY_API_CONTROL_API_H_
#define MLCANARY_API_CONTROL_API_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "controller/controller.h"
#include "core/error.h"
#include "core/policy.h"
#include "core/ports.h"
#include "http/http_server.h"
#include "http/message.h"

namespace mlcanary::api {

struct ApiOptions {
  // Bearer tokens. The admin token may do everything, the reader token only
  // GET. Empty reader token: no read-only access. The names are the actors
  // recorded in the events of the actions a token takes.
  std::string admin_token;
  std::string admin_name = "admin";
  std::string reader_token;
  std::string reader_name = "reader";
  // Without an admin token ControlApi::Create refuses, unless this is set:
  // then every request is served as the admin, with no token (local demos).
  bool allow_no_auth = false;
  // GET /metrics and GET /v1/openapi.json need a token (admin or reader)
  // unless this is set. GET /healthz never needs one.
  bool public_metrics = false;
  // The policy a deployment starts from, per endpoint (the config file's
  // endpoints[].policy); the request's "policy" keys apply on top of it.
  // Endpoints not named here start from `default_policy`.
  std::map<std::string, core::Policy, std::less<>> endpoint_policies;
  core::Policy default_policy;
  // Fleet mode (several replicas, one of them runs the controller): a user
  // action (complete, cancel, rollback, pause, resume) is recorded on the
  // deployment for the leader's controller to carry out
  // (Controller::Request), and the answer waits up to this long for it: 200
  // with the deployment as the leader left it, or 202 with the deployment
  // showing its `requested` action when the wait ran out (the leader carries
  // it out when it can: a failover does not lose it). POST /v1/deployments
  // (recorded PENDING, the leader readies the canary) waits as long for the
  // deployment to leave PENDING and answers 201 with it as it is then. Zero:
  // the action is carried out here (one process).
  core::Duration leader_action_wait{};
};

// What the API serves from. All references are borrowed and must outlive the
// ControlApi (and any server running its handler).
struct ApiDependencies {
  controller::Controller& controller;
  core::DeploymentStore& store;
  core::TrafficControl& traffic;
  // A fresh deployment id for every create request; called from several
  // threads at once.
  std::function<std::string()> new_deployment_id;
  // The Prometheus text (format 0.0.4) that GET /metrics serves.
  std::function<std::string()> metrics_text;
};

// One route the API serves, for the router and the OpenAPI document.
struct RouteInfo {
  std::string method;   // "GET", "POST"
  std::string pattern;  // "/v1/deployments/{id}/events"
};

// Thread-safe: Handle() may run on every I/O thread at once; the API keeps no
// mutable state of its own.
class ControlApi {
 public:
  // kValidation, naming the option, when the options are unusable: no admin
  // token without allow_no_auth, a reader token equal to the admin token, a
  // missing id generator or metrics source.
  static core::Result<std::unique_ptr<ControlApi>> Create(ApiOptions options, ApiDependencies deps);

  // Answers one request (what HttpServer calls).
  http::Response Handle(const http::Request& request) const;
  // A Handler that calls Handle() on this API (which must outlive it).
  http::Handler handler() const;

  // Every route served, in the order the router tries them.
  static std::vector<RouteInfo> Routes();
  // The OpenAPI 3.0 document that GET /v1/openapi.json serves.
  static std::string OpenApiJson();

  ControlApi(const ControlApi&) = delete;
  ControlApi& operator=(const ControlApi&) = delete;
  ~ControlApi();

  struct Impl;

 private:
  explicit ControlApi(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The status of an error answer: http::HttpStatusFor, the one mapping shared
// with the gateway (409 also for refused transitions; 429 throttled).
int HttpStatusFor(core::ErrorCode code);
// The JSON error answer for `error`, with the status HttpStatusFor gives.
http::Response ErrorResponseFor(const core::Error& error);

}  // namespace mlcanary::api

#endif  // MLCANARY_API_CONTROL_API_H_
