// The control API's route table (API.md "Control API"); what a route leaves
// out is Route's default (no body, 200 application/json).
#include "api/internal/route_table.h"

namespace mlcanary::api::internal {

const std::vector<Route>& RouteTable() {
  static const std::vector<Route> kRoutes = [] {
    auto action = [](RouteId id, std::string_view pattern, std::string_view operation_id,
                     std::string_view summary) {
      return Route{.id = id,
                   .method = "POST",
                   .pattern = pattern,
                   .access = Access::kAdmin,
                   .body = BodyKind::kEmptyOrEmptyJson,
                   .operation_id = operation_id,
                   .summary = summary,
                   .success_schema = "Deployment",
                   .error_statuses = {400, 404, 409, 413, 415, 503, 504},
                   .may_be_accepted = true};
    };
    return std::vector<Route>{
        {.id = RouteId::kHealthz,
         .method = "GET",
         .pattern = "/healthz",
         .access = Access::kPublic,
         .operation_id = "healthz",
         .summary = "Liveness of the control API, for load balancers (no token needed).",
         .success_schema = "Health"},
        {.id = RouteId::kMetrics,
         .method = "GET",
         .pattern = "/metrics",
         .access = Access::kMetrics,
         .operation_id = "metrics",
         .summary = "Prometheus metrics (text format 0.0.4). Needs a token unless the server "
                    "runs with public metrics.",
         .success_type = "text/plain; version=0.0.4"},
        {.id = RouteId::kOpenApi,
         .method = "GET",
         .pattern = "/v1/openapi.json",
         .access = Access::kMetrics,
         .operation_id = "openapi",
         .summary = "This document. Needs a token unless the server runs with public metrics."},
        {.id = RouteId::kListEndpoints,
         .method = "GET",
         .pattern = "/v1/endpoints",
         .access = Access::kRead,
         .operation_id = "listEndpoints",
         .summary = "Every endpoint with its live variants, weights, instances and status.",
         .success_schema = "EndpointList",
         .error_statuses = {503, 504}},
        {.id = RouteId::kGetEndpoint,
         .method = "GET",
         .pattern = "/v1/endpoints/{name}",
         .access = Access::kRead,
         .operation_id = "getEndpoint",
         .summary = "One endpoint with its live variants, weights, instances, status and "
                    "active deployment.",
         .success_schema = "Endpoint",
         .error_statuses = {404, 503, 504}},
        {.id = RouteId::kListDeployments,
         .method = "GET",
         .pattern = "/v1/deployments",
         .access = Access::kRead,
         .operation_id = "listDeployments",
         .summary = "Deployments, newest first (created_at, ties by id, greater first). "
                    "Without limit every match at once; with limit one page, and "
                    "next_page_token when more follow: pass it as page_token (with the same "
                    "filters) for the next page.",
         .query = {{"endpoint", "string", "Only deployments of this endpoint."},
                   {"state", "string",
                    "Only deployments in this state: PENDING, IN_PROGRESS, COMPLETED, "
                    "ROLLING_BACK, ROLLED_BACK, FAILED or CANCELLED."},
                   {"since", "date-time",
                    "Only deployments created at or after this RFC 3339 UTC time "
                    "(2026-11-28T17:39:58Z)."},
                   {"until", "date-time",
                    "Only deployments created before this time; must be after since."},
                   {"limit", "integer", "At most this many deployments in this page.", 1, 1000},
                   {"page_token", "string",
                    "The next_page_token of the previous page, unchanged: the page that "
                    "follows it."}},
         .success_schema = "DeploymentList",
         .error_statuses = {400, 503}},
        {.id = RouteId::kCreateDeployment,
         .method = "POST",
         .pattern = "/v1/deployments",
         .access = Access::kAdmin,
         .body = BodyKind::kCreateDeployment,
         .operation_id = "createDeployment",
         .summary = "Starts a canary deployment of a new model on an endpoint. The body's "
                    "policy keys apply on top of the endpoint's configured policy.",
         .success_status = 201,
         .success_schema = "Deployment",
         .error_statuses = {400, 404, 409, 413, 415, 502, 503, 504}},
        {.id = RouteId::kGetDeployment,
         .method = "GET",
         .pattern = "/v1/deployments/{id}",
         .access = Access::kRead,
         .operation_id = "getDeployment",
         .summary = "One deployment.",
         .success_schema = "Deployment",
         .error_statuses = {404, 503}},
        {.id = RouteId::kListEvents,
         .method = "GET",
         .pattern = "/v1/deployments/{id}/events",
         .access = Access::kRead,
         .operation_id = "listEvents",
         .summary = "The deployment's event log, oldest first: every check with its values, "
                    "thresholds and verdict, every transition with its reason and actor.",
         .query = {{"after", "integer", "Only events with a seq greater than this.", 0}},
         .success_schema = "EventList",
         .error_statuses = {400, 404, 503}},
        action(RouteId::kComplete, "/v1/deployments/{id}/complete", "completeDeployment",
               "Moves the canary to 100 % and completes the deployment (IN_PROGRESS only)."),
        action(RouteId::kCancel, "/v1/deployments/{id}/cancel", "cancelDeployment",
               "Moves the canary to 0 %, removes it and cancels the deployment (PENDING or "
               "IN_PROGRESS)."),
        action(RouteId::kRollback, "/v1/deployments/{id}/rollback", "rollbackDeployment",
               "Rolls the deployment back: production 100 %, canary 0 % (IN_PROGRESS only). "
               "When the store cannot be written, traffic moves to production all the same and "
               "the answer is 503 whose message says \"traffic is on production; the record "
               "will follow\": the controller writes the record when the store works again."),
        action(RouteId::kPause, "/v1/deployments/{id}/pause", "pauseDeployment",
               "Stops the checks of an IN_PROGRESS deployment; its weights stay."),
        action(RouteId::kResume, "/v1/deployments/{id}/resume", "resumeDeployment",
               "Starts the checks of a paused deployment again; the bake restarts."),
        action(RouteId::kApprove, "/v1/deployments/{id}/approve", "approveDeployment",
               "Approves the manual gate a deployment waits at (waiting_for: approval): it "
               "takes the step the gate held at once, with a fresh bake (or completes). 409 "
               "when it is not waiting at a gate, naming why (approving twice: the second is "
               "409)."),
        // The dashboard's page and files hold no data (the page reads the
        // routes above with the user's token), so they need none.
        {.id = RouteId::kDashboard,
         .method = "GET",
         .pattern = "/",
         .access = Access::kPublic,
         .operation_id = "dashboard",
         .summary = "The dashboard (HTML; no token needed: the page asks for one and reads the "
                    "API with it).",
         .success_type = "text/html"},
        {.id = RouteId::kDashboardAsset,
         .method = "GET",
         .pattern = "/assets/{file}",
         .access = Access::kPublic,
         .operation_id = "dashboardAsset",
         .summary = "A static file of the dashboard (app.js, style.css, favicon.svg), embedded in "
                    "the binary.",
         .success_type = "text/javascript|text/css|image/svg+xml",
         .error_statuses = {404}},
    };
  }();
  return kRoutes;
}

}  // namespace mlcanary::api::internal
