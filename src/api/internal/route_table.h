// The control API's routes in one table: the router dispatches on it and the
// OpenAPI document is generated from it, so neither can miss a route.
#ifndef MLCANARY_API_INTERNAL_ROUTE_TABLE_H_
#define MLCANARY_API_INTERNAL_ROUTE_TABLE_H_

#include <optional>
#include <string_view>
#include <vector>

namespace mlcanary::api::internal {

enum class RouteId {
  kHealthz,
  kMetrics,
  kOpenApi,
  kListEndpoints,
  kGetEndpoint,
  kListDeployments,
  kCreateDeployment,
  kGetDeployment,
  kListEvents,
  kComplete,
  kCancel,
  kRollback,
  kPause,
  kResume,
  kApprove,
  kDashboard,
  kDashboardAsset,
};

// Who may call a route.
enum class Access {
  kPublic,   // anyone (health checks of load balancers)
  kMetrics,  // a token (admin or reader) unless ApiOptions::public_metrics
  kRead,     // a token: admin or reader
  kAdmin,    // the admin token only
};

// What a route reads from the request body.
enum class BodyKind {
  kNone,              // none (GET)
  kCreateDeployment,  // a JSON CreateDeploymentRequest (Content-Type application/json)
  kEmptyOrEmptyJson,  // nothing, or an empty JSON object
};

struct QueryParam {
  std::string_view name;
  std::string_view type;  // "string", "integer", "date-time"
  std::string_view description;
  std::optional<int> minimum = std::nullopt;  // integers
  std::optional<int> maximum = std::nullopt;
};

struct Route {
  RouteId id;
  std::string_view method;
  std::string_view pattern;  // "/v1/deployments/{id}"
  Access access;
  BodyKind body = BodyKind::kNone;
  std::string_view operation_id;
  std::string_view summary;
  std::vector<QueryParam> query = {};
  int success_status = 200;  // 200, 201
  // "application/json", "text/plain"; several as "text/javascript|text/css".
  std::string_view success_type = "application/json";
  std::string_view success_schema = {};  // a components/schemas name, or empty
  std::vector<int> error_statuses = {};  // besides 401/403 (from `access`) and 500
  // A user action that, in fleet mode, may be answered 202: recorded in the
  // store, to be carried out by the leader's controller (ApiOptions::
  // leader_action_wait ran out first; `requested` says what is pending).
  bool may_be_accepted = false;
};

const std::vector<Route>& RouteTable();

}  // namespace mlcanary::api::internal

#endif  // MLCANARY_API_INTERNAL_ROUTE_TABLE_H_
