// The OpenAPI 3.0 document of the control API, generated from the route table
// (paths) and from the JSON forms the codec writes (schemas).
#include <algorithm>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/control_api.h"
#include "api/internal/route_table.h"
#include "core/policy_fields.h"
#include "util/json_writer.h"

namespace mlcanary::api {

namespace {

using internal::Access;
using internal::BodyKind;
using internal::Route;

// A property of a schema, written from a compact type spec:
//   "string", "number", "integer", "boolean", "date-time", "duration",
//   "#Name" (a $ref), "[]#Name" / "[]number" (arrays), "?date-time" /
//   "?string" / "?number" (nullable), "enum:A|B|C" (a string enumeration),
//   "oneOf:number|#Name" (one of the types).
struct Prop {
  std::string_view name;
  std::string_view type;
  std::string_view description = {};
};

void WriteType(util::JsonWriter& w, std::string_view type, std::string_view description) {
  w.BeginObject();
  bool nullable = false;
  if (type.starts_with('?')) {
    nullable = true;
    type.remove_prefix(1);
  }
  if (type.starts_with("[]")) {
    w.Key("type").String("array");
    w.Key("items");
    WriteType(w, type.substr(2), {});
  } else if (type.starts_with('#')) {
    w.Key("allOf").BeginArray().BeginObject();
    w.Key("$ref").String("#/components/schemas/" + std::string(type.substr(1)));
    w.EndObject().EndArray();
  } else if (type.starts_with("oneOf:")) {
    w.Key("oneOf").BeginArray();
    std::string_view rest = type.substr(6);
    while (!rest.empty()) {
      const auto bar = rest.find('|');
      WriteType(w, rest.substr(0, bar), {});
      rest = bar == std::string_view::npos ? std::string_view() : rest.substr(bar + 1);
    }
    w.EndArray();
  } else if (type.starts_with("enum:")) {
    w.Key("type").String("string");
    w.Key("enum").BeginArray();
    std::string_view rest = type.substr(5);
    while (!rest.empty()) {
      const auto bar = rest.find('|');
      w.String(rest.substr(0, bar));
      rest = bar == std::string_view::npos ? std::string_view() : rest.substr(bar + 1);
    }
    w.EndArray();
  } else if (type == "date-time") {
    w.Key("type").String("string");
    w.Key("format").String("date-time");
  } else if (type == "duration") {
    w.Key("type").String("string");
    w.Key("pattern").String("^[0-9]+(ms|s|m|h)$");
    w.Key("example").String("10m");
  } else {
    w.Key("type").String(type);
  }
  if (nullable) w.Key("nullable").Bool(true);
  if (!description.empty()) w.Key("description").String(description);
  w.EndObject();
}

void WriteObjectSchema(util::JsonWriter& w, std::string_view name, std::string_view description,
                       std::initializer_list<std::string_view> required,
                       const std::vector<Prop>& props, bool closed = false) {
  w.Key(name).BeginObject();
  w.Key("type").String("object");
  if (!description.empty()) w.Key("description").String(description);
  if (required.size() > 0) {
    w.Key("required").BeginArray();
    for (auto r : required) w.String(r);
    w.EndArray();
  }
  w.Key("properties").BeginObject();
  for (const Prop& p : props) {
    w.Key(p.name);
    WriteType(w, p.type, p.description);
  }
  w.EndObject();
  if (closed) w.Key("additionalProperties").Bool(false);
  w.EndObject();
}

// The schema of a policy group's object ("shadow": "ShadowPolicy").
std::string_view GroupSchema(std::string_view group) {
  return group == "shadow" ? "ShadowPolicy" : "PolicyGroup";
}

// The Policy schema's properties: core::PolicyFields(), in their order; a
// group (shadow.*) as one property referring to its schema. With `group`: the
// properties of that group's schema.
std::vector<Prop> PolicyProps(std::string_view group = {}) {
  std::vector<Prop> props;
  // The enum types' text ("enum:a|b") lives as long as the props that point at it.
  static const std::vector<std::string> choice_types = [] {
    std::vector<std::string> types;
    for (const core::PolicyField& field : core::PolicyFields()) {
      std::string t = "enum:";
      for (std::size_t i = 0; i < field.choices.size(); ++i) {
        if (i > 0) t += "|";
        t += field.choices[i];
      }
      types.push_back(std::move(t));
    }
    return types;
  }();
  std::size_t row = 0;
  for (const core::PolicyField& field : core::PolicyFields()) {
    std::string_view type;
    switch (core::TypeOf(field)) {
      case core::PolicyFieldType::kNumber:
        type = "number";
        break;
      case core::PolicyFieldType::kStepList:
        type = "[]oneOf:number|#PolicyStep";
        break;
      case core::PolicyFieldType::kDuration:
        type = "duration";
        break;
      case core::PolicyFieldType::kInteger:
        type = "integer";
        break;
      case core::PolicyFieldType::kBoolean:
        type = "boolean";
        break;
      case core::PolicyFieldType::kChoice:
        type = choice_types[row];
        break;
      case core::PolicyFieldType::kHooks:
        type = "#PolicyHooks";
        break;
      case core::PolicyFieldType::kHookList:
        type = "[]#Hook";
        break;
    }
    ++row;
    const std::string_view field_group = core::GroupOf(field);
    if (field_group == group) {
      props.push_back({.name = core::KeyOf(field), .type = type, .description = field.doc});
    } else if (group.empty() && (props.empty() || props.back().name != field_group)) {
      static const std::string shadow_ref = "#" + std::string(GroupSchema("shadow"));
      props.push_back({.name = field_group,
                       .type = field_group == "shadow" ? std::string_view(shadow_ref) : "object",
                       .description = "leave out for none"});
    }
  }
  return props;
}

constexpr std::string_view kStates =
    "enum:PENDING|IN_PROGRESS|COMPLETED|ROLLING_BACK|ROLLED_BACK|FAILED|CANCELLED";

// Errors, liveness, models.
void WriteBasicSchemas(util::JsonWriter& w) {
  WriteObjectSchema(w, "Error", "Every error answer.", {"error"}, {{"error", "#ErrorBody"}});
  WriteObjectSchema(
      w, "ErrorBody", "", {"code", "message"},
      {{"code", "string",
        "ValidationError, Unauthenticated, PermissionDenied, NotFound, Conflict, "
        "FailedPrecondition, MethodNotAllowed, PayloadTooLarge, "
        "UnsupportedMediaType, ServiceUnavailable, Throttled, Timeout, ModelError, InternalError"},
       {"message", "string", "What went wrong; names the key path for bad bodies."}});
  WriteObjectSchema(w, "Health", "", {"status"}, {{"status", "enum:ok"}});
  WriteObjectSchema(
      w, "ModelSpec", "Where a variant's model comes from.", {"kind"},
      {{"kind", "enum:xgboost|http"},
       {"path", "string", "kind xgboost: the model file (.json or .ubj)"},
       {"url", "string", "kind http: base URL of a SageMaker-contract model server (http://...)"},
       {"timeout", "duration", "kind http: per-request timeout (default 200ms)"}},
      true);
}

// The policy and its step and group objects.
void WritePolicySchemas(util::JsonWriter& w) {
  WriteObjectSchema(
      w, "Policy",
      "How a deployment moves and when its canary is unhealthy. In a request every key is "
      "optional and applies on top of the endpoint's configured policy.",
      {}, PolicyProps(), true);
  WriteObjectSchema(
      w, "PolicyStep",
      "An entry of steps with keys of its own (a plain number is a step with only a weight, and "
      "is written back as one).",
      {"weight"},
      {{"weight", "number", "the canary weight of this step, in [0.000001, 1]"},
       {"bake", "duration",
        "healthy time at this weight before the next step (default: bake; "
        "at 1.0: final_bake); not negative"},
       {"gate", "enum:manual",
        "after this weight's bake the deployment waits (waiting_for: approval) until POST "
        "/v1/deployments/{id}/approve; refused on the first step"}},
      true);
  WriteObjectSchema(w, "PolicyHooks",
                    "HTTP hooks by point (issue 15); each is POSTed {hook, deployment, "
                    "last_check, metadata}.",
                    {},
                    {{"pre_rollout", "#Hook",
                      "before traffic moves; non-2xx or no answer: the deployment FAILED"},
                     {"confirm_step", "#Hook",
                      "before each step up; non-2xx holds the step (waiting_for: "
                      "hook:confirm_step), asked again at every check"},
                     {"pre_complete", "#Hook", "before COMPLETED; non-2xx holds the completion"},
                     {"post_rollout", "#Hook", "after COMPLETED; informational"},
                     {"on_rollback", "#Hook", "after ROLLED_BACK; informational"}},
                    true);
  WriteObjectSchema(
      w, "Hook", "One HTTP hook.", {"url"},
      {{"url", "string", "http:// or https://"},
       {"timeout", "duration", "per attempt (10s); at most 30s"},
       {"retries", "integer", "more attempts after a connection error or a 5xx answer (1); 0 to 3"},
       {"metadata", "object", "string values sent as the body's metadata"}},
      true);
  WriteObjectSchema(w, GroupSchema("shadow"),
                    "The shadow phase (issue 14): before the split the canary answers copies of "
                    "a share of production's requests; its answers are measured and compared "
                    "with production's (the paired divergence check), never returned to users.",
                    {"duration"}, PolicyProps("shadow"), true);
}

// Endpoints and their variants.
void WriteEndpointSchemas(util::JsonWriter& w) {
  WriteObjectSchema(w, "Variant", "", {"name", "weight", "instances", "model"},
                    {{"name", "string"},
                     {"weight", "number"},
                     {"instances", "integer"},
                     {"model", "#ModelSpec"}});
  WriteObjectSchema(
      w, "Endpoint", "An endpoint as its traffic control reports it now.",
      {"name", "status", "variants"},
      {{"name", "string"},
       {"status", "enum:InService|Updating|Failed"},
       {"variants", "[]#Variant"},
       {"active_deployment", "?string", "id of the deployment active on the endpoint, or null"}});
  WriteObjectSchema(w, "EndpointList", "", {"endpoints"}, {{"endpoints", "[]#Endpoint"}});
}

// A deployment record and what it holds.
void WriteDeploymentSchemas(util::JsonWriter& w) {
  WriteObjectSchema(w, "Progress", "The rollout's memory between checks.", {},
                    {{"weight_since", "date-time"},
                     {"healthy_since", "date-time"},
                     {"last_check_at", "?date-time"},
                     {"latency_breaches", "integer"},
                     {"error_breaches", "integer"},
                     {"divergence_breaches", "integer"},
                     {"analysis_breaches", "integer", "present when > 0"},
                     {"failed_checks", "integer"},
                     {"checks", "integer"}});
  WriteObjectSchema(w, "Deployment", "One canary rollout on one endpoint.",
                    {"id", "endpoint", "production_variant", "canary_variant", "state",
                     "canary_weight", "paused", "policy", "created_at", "updated_at"},
                    {{"id", "string"},
                     {"endpoint", "string"},
                     {"production_variant", "string"},
                     {"canary_variant", "string"},
                     {"state", kStates},
                     {"canary_weight", "number"},
                     {"paused", "boolean"},
                     {"phase", "enum:split|shadow",
                      "shadow: the canary (weight 0) answers copies of production's requests, "
                      "never returned; split: it serves its weight of users"},
                     {"policy", "#Policy"},
                     {"model", "#ModelSpec"},
                     {"instances", "integer"},
                     {"keep_previous", "boolean"},
                     {"created_at", "date-time"},
                     {"updated_at", "date-time"},
                     {"version", "integer"},
                     {"progress", "#Progress"},
                     {"last_check_error", "?#CheckError",
                      "the last check that could not be made or recorded (this process's "
                      "memory), or null"},
                     {"unrecorded", "?#Unrecorded",
                      "what the store did not take yet (store unavailable), or null"},
                     {"requested", "?#ActionRequest",
                      "fleet mode: a user action recorded for the leader's controller and not "
                      "carried out yet, or null"},
                     {"waiting_for", "string",
                      "approval: present while the deployment waits at a manual gate of its "
                      "steps for POST /v1/deployments/{id}/approve; hook:confirm_step or "
                      "hook:pre_complete: while that hook holds the step (non-2xx); absent "
                      "otherwise"}});
  std::string actions = "enum:";
  for (core::UserAction a : core::kUserActions) {
    if (actions.size() > 5) actions += '|';
    actions += core::UserActionName(a);
  }
  WriteObjectSchema(w, "ActionRequest", "", {"action", "actor", "at"},
                    {{"action", actions}, {"actor", "string"}, {"at", "date-time"}});
  WriteObjectSchema(w, "CheckError", "", {"time", "message"},
                    {{"time", "date-time"}, {"message", "string"}});
  WriteObjectSchema(
      w, "Unrecorded",
      "Checks the store could not record (none counts towards the bake) and a rollback or an "
      "automatic failure waiting to be recorded (traffic is on production already; the record "
      "follows).",
      {"checks", "rollback"}, {{"checks", "integer"}, {"rollback", "?#UnrecordedRollback"}});
  WriteObjectSchema(w, "UnrecordedRollback", "", {"time", "reason", "state", "traffic"},
                    {{"time", "date-time"},
                     {"reason", "string"},
                     {"state", "enum:ROLLED_BACK|FAILED", "the state the record will end in"},
                     {"traffic", "enum:production"}});
  WriteObjectSchema(w, "DeploymentList", "", {"deployments"},
                    {{"deployments", "[]#Deployment"},
                     {"next_page_token", "string",
                      "Present when more deployments follow this page (a request with "
                      "limit): pass it as page_token. Opaque."}});
}

// A check: metrics, thresholds, the tests and the verdict.
void WriteCheckSchemas(util::JsonWriter& w) {
  WriteObjectSchema(w, "WindowMetrics", "One variant's metrics over a check's window.", {},
                    {{"invocations", "integer"},
                     {"errors_4xx", "integer"},
                     {"errors_5xx", "integer"},
                     {"error_rate", "number"},
                     {"p50_ms", "number"},
                     {"p90_ms", "number"},
                     {"p99_ms", "number"},
                     {"overhead_ms", "number"},
                     {"cpu_utilization", "number"},
                     {"memory_utilization", "number"}});
  WriteObjectSchema(w, "Thresholds", "", {},
                    {{"max_p99_ms", "number"},
                     {"max_error_rate", "number"},
                     {"max_latency_ratio", "number"},
                     {"max_error_rate_diff", "number"},
                     {"min_invocations", "integer"},
                     {"latency_ratio_min_p99_ms", "number"},
                     {"latency_judge", "enum:threshold|mann_whitney"},
                     {"latency_alpha", "number"},
                     {"latency_min_effect", "number"},
                     {"divergence_psi_max", "number"},
                     {"divergence_min_predictions", "integer"},
                     {"divergence_tolerance", "number"},
                     {"divergence_max_disagreement", "number"},
                     {"divergence_output", "integer"}});
  WriteObjectSchema(w, "PairedDivergence",
                    "The paired check: production's and the canary's answers to the same "
                    "(copied) requests, compared row by row on one output.",
                    {"pairs", "disagreement", "mean_abs_diff"},
                    {{"pairs", "integer", "rows answered by both variants in the window"},
                     {"disagreement", "number",
                      "share of pairs whose predictions differ by more than divergence_tolerance"},
                     {"mean_abs_diff", "number", "mean |canary - production|"}});
  WriteObjectSchema(w, "LatencyTest",
                    "latency_judge mann_whitney: the one-sided Mann-Whitney U test of \"canary "
                    "slower\" over both latency histograms, and the effect.",
                    {"u", "z", "p", "effect"},
                    {{"u", "number", "U of the canary: pairs canary > production, ties half"},
                     {"z", "number", "standardized U (tie and continuity corrected)"},
                     {"p", "number", "one-sided p-value"},
                     {"effect", "number", "canary p50 / production p50"}});
  WriteObjectSchema(
      w, "HealthReport", "One check: the values, the thresholds and the verdict.", {"verdict"},
      {{"verdict",
        "enum:healthy|inconclusive|latency_breached|error_breached|latency_and_error_breached|"
        "divergence_breached|analysis_breached"},
       {"latency_breached", "boolean"},
       {"error_breached", "boolean"},
       {"divergence_breached", "boolean"},
       {"canary", "#WindowMetrics"},
       {"production", "#WindowMetrics"},
       {"latency_ratio", "?number"},
       {"error_rate_diff", "number"},
       {"latency_test", "#LatencyTest", "present with latency_judge mann_whitney"},
       {"psi", "number",
        "prediction divergence: PSI of canary predictions against production's (present when "
        "the check is on and both variants have divergence_min_predictions)"},
       {"paired", "#PairedDivergence",
        "paired divergence (shadow): present when divergence_max_disagreement > 0 and the "
        "canary has divergence_min_predictions pairs"},
       {"thresholds", "#Thresholds"},
       {"reason", "string"},
       {"analysis_breached", "boolean", "present with analysis hooks"},
       {"analysis", "[]#AnalysisResult", "the analysis hooks' votes, present with any"}});
  WriteObjectSchema(w, "AnalysisResult", "One analysis hook's vote in a check.", {"url", "verdict"},
                    {{"url", "string", "without credentials or query"},
                     {"verdict", "enum:healthy|breached|inconclusive",
                      "inconclusive also for no answer, non-2xx or a body that is no verdict"},
                     {"reason", "string"},
                     {"status", "integer", "HTTP status; 0: no answer"}});
}

// The event log.
void WriteEventSchemas(util::JsonWriter& w) {
  WriteObjectSchema(
      w, "Event", "An entry of a deployment's append-only event log.",
      {"seq", "deployment_id", "time", "kind"},
      {{"seq", "integer"},
       {"deployment_id", "string"},
       {"time", "date-time"},
       {"kind", "enum:check|transition|weight_change|paused|resumed|error|gate|approved|hook",
        "gate: reached a manual gate, waits for approval; approved: a user "
        "approved it (actor) and the step it held is taken; hook: a hook was called (not "
        "announced to notifiers)"},
       {"from_state", kStates},
       {"to_state", kStates},
       {"weight_before", "number"},
       {"weight_after", "number"},
       {"reason", "string"},
       {"actor", "string", "controller, system, or the token's name"},
       {"check", "#HealthReport", "present on check events"},
       {"hook", "#HookCall", "present on hook events"}});
  WriteObjectSchema(
      w, "HookCall", "One hook call (issue 15).",
      {"name", "url", "status", "attempts", "elapsed_ms", "outcome"},
      {{"name", "string", "pre_rollout, confirm_step, ..., or analysis"},
       {"url", "string", "without credentials or query"},
       {"status", "integer", "HTTP status of the last attempt; 0: no answer"},
       {"attempts", "integer"},
       {"elapsed_ms", "integer"},
       {"outcome", "string", "ok, refused (non-2xx), unreachable, or an analysis verdict"}});
  WriteObjectSchema(w, "EventList", "", {"deployment_id", "events"},
                    {{"deployment_id", "string"}, {"events", "[]#Event"}});
}

// Request bodies.
void WriteRequestSchemas(util::JsonWriter& w) {
  WriteObjectSchema(
      w, "CreateDeploymentRequest", "", {"endpoint", "model"},
      {{"endpoint", "string"},
       {"model", "#ModelSpec"},
       {"variant", "string", "name of the canary variant (default canary)"},
       {"policy", "#Policy"},
       {"instances", "integer", "canary instances, 1..1000 (default 1)"},
       {"keep_previous", "boolean", "keep the old production variant (at 0 %) after COMPLETED"}},
      true);
}

void WriteSchemas(util::JsonWriter& w) {
  w.Key("schemas").BeginObject();
  WriteBasicSchemas(w);
  WritePolicySchemas(w);
  WriteEndpointSchemas(w);
  WriteDeploymentSchemas(w);
  WriteCheckSchemas(w);
  WriteEventSchemas(w);
  WriteRequestSchemas(w);
  w.EndObject();
}

std::string_view StatusDescription(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 400:
      return "Invalid request (ValidationError): the message names the key path";
    case 401:
      return "Missing or invalid bearer token";
    case 403:
      return "The read-only token may not change anything";
    case 404:
      return "No such endpoint or deployment";
    case 409:
      return "Conflict: a deployment is already active, or its state does not allow this";
    case 413:
      return "Request body too large";
    case 415:
      return "Content-Type is not application/json";
    case 502:
      return "The canary's model or its server failed";
    case 503:
      return "A backing service (the data plane, the store) is unavailable or throttling; "
             "retry. A rollback answered 503 has moved traffic to production already";
    case 504:
      return "A backing service timed out; retry";
    case 500:
      return "Internal error";
  }
  return "Error";
}

void WriteErrorResponse(util::JsonWriter& w, int status) {
  w.Key(std::to_string(status)).BeginObject();
  w.Key("description").String(StatusDescription(status));
  if (status == 401) {
    w.Key("headers").BeginObject();
    w.Key("WWW-Authenticate").BeginObject();
    w.Key("schema").BeginObject().Key("type").String("string").EndObject();
    w.EndObject();
    w.EndObject();
  }
  w.Key("content").BeginObject();
  w.Key("application/json").BeginObject();
  w.Key("schema").BeginObject().Key("$ref").String("#/components/schemas/Error").EndObject();
  w.EndObject();
  w.EndObject();
  w.EndObject();
}

void WriteOperation(util::JsonWriter& w, const Route& route) {
  std::string method(route.method);
  for (char& c : method) c = static_cast<char>(c - 'A' + 'a');
  w.Key(method).BeginObject();
  w.Key("operationId").String(route.operation_id);
  w.Key("summary").String(route.summary);
  if (route.access == Access::kPublic) {
    w.Key("security").BeginArray().EndArray();
  } else if (route.access == Access::kMetrics) {
    // Open when the server runs with public metrics.
    w.Key("security").BeginArray();
    w.BeginObject().Key("bearerAuth").BeginArray().EndArray().EndObject();
    w.BeginObject().EndObject();
    w.EndArray();
  }
  w.Key("parameters").BeginArray();
  std::string_view pattern = route.pattern;
  for (auto open = pattern.find('{'); open != std::string_view::npos;
       open = pattern.find('{', open + 1)) {
    const auto close = pattern.find('}', open);
    w.BeginObject();
    w.Key("name").String(pattern.substr(open + 1, close - open - 1));
    w.Key("in").String("path");
    w.Key("required").Bool(true);
    w.Key("schema").BeginObject().Key("type").String("string").EndObject();
    w.EndObject();
  }
  for (const auto& q : route.query) {
    w.BeginObject();
    w.Key("name").String(q.name);
    w.Key("in").String("query");
    w.Key("required").Bool(false);
    w.Key("description").String(q.description);
    w.Key("schema").BeginObject();
    if (q.type == "date-time") {
      w.Key("type").String("string").Key("format").String("date-time");
    } else {
      w.Key("type").String(q.type);
    }
    if (q.minimum) w.Key("minimum").Int(*q.minimum);
    if (q.maximum) w.Key("maximum").Int(*q.maximum);
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  if (route.body != BodyKind::kNone) {
    const bool create = route.body == BodyKind::kCreateDeployment;
    w.Key("requestBody").BeginObject();
    w.Key("required").Bool(create);
    w.Key("content").BeginObject().Key("application/json").BeginObject();
    w.Key("schema").BeginObject();
    if (create) {
      w.Key("$ref").String("#/components/schemas/CreateDeploymentRequest");
    } else {
      w.Key("type").String("object");
      w.Key("additionalProperties").Bool(false);
      w.Key("description").String("no body, or an empty object");
    }
    w.EndObject();
    w.EndObject().EndObject();
    w.EndObject();
  }
  w.Key("responses").BeginObject();
  w.Key(std::to_string(route.success_status)).BeginObject();
  w.Key("description").String(StatusDescription(route.success_status));
  if (route.success_status == 201) {
    w.Key("headers").BeginObject();
    w.Key("Location").BeginObject();
    w.Key("description").String("/v1/deployments/{id} of the new deployment");
    w.Key("schema").BeginObject().Key("type").String("string").EndObject();
    w.EndObject();
    w.EndObject();
  }
  w.Key("content").BeginObject();
  std::string_view types = route.success_type;
  while (!types.empty()) {
    const auto bar = types.find('|');
    const std::string_view type = types.substr(0, bar);
    types = bar == std::string_view::npos ? std::string_view() : types.substr(bar + 1);
    w.Key(type).BeginObject();
    w.Key("schema").BeginObject();
    if (!route.success_schema.empty()) {
      w.Key("$ref").String("#/components/schemas/" + std::string(route.success_schema));
    } else if (type != "application/json") {
      w.Key("type").String("string");
    } else {
      w.Key("type").String("object");
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  if (route.may_be_accepted) {
    w.Key("202").BeginObject();
    w.Key("description")
        .String(
            "Fleet mode: recorded, not carried out yet. This replica is not the controller's "
            "leader and the leader did not act within the wait; it will on its next check. "
            "`requested` says what is pending; GET the deployment to follow it.");
    w.Key("content").BeginObject().Key("application/json").BeginObject();
    w.Key("schema").BeginObject().Key("$ref").String("#/components/schemas/Deployment");
    w.EndObject().EndObject().EndObject();
    w.EndObject();
  }
  std::vector<int> errors = route.error_statuses;
  if (route.access != Access::kPublic) errors.push_back(401);
  if (route.access == Access::kAdmin) errors.push_back(403);
  errors.push_back(500);
  std::sort(errors.begin(), errors.end());
  errors.erase(std::unique(errors.begin(), errors.end()), errors.end());
  for (int status : errors) WriteErrorResponse(w, status);
  w.EndObject();
  w.EndObject();
}

std::string BuildDocument() {
  util::JsonWriter w(2);
  w.BeginObject();
  w.Key("openapi").String("3.0.3");
  w.Key("info").BeginObject();
  w.Key("title").String("mlcanary control API");
  w.Key("version").String("1");
  w.Key("description")
      .String(
          "Canary deployments of ML models: endpoints, deployments, their events and the user "
          "actions on them. Every route but /healthz and the dashboard's page and files needs "
          "`Authorization: Bearer <token>`: the "
          "admin token may do everything, the read-only token only GET (403 otherwise). Errors "
          "are JSON {\"error\": {\"code\", \"message\"}}. A wrong method answers 405 with an "
          "Allow header; an unknown route 404. Before any route: malformed HTTP 400, a header "
          "over the limit 431, a body over the limit 413, a Transfer-Encoding other than "
          "chunked 501 (NotImplemented, RFC 9112 section 6.1), as on the inference port.");
  w.EndObject();
  w.Key("security").BeginArray();
  w.BeginObject().Key("bearerAuth").BeginArray().EndArray().EndObject();
  w.EndArray();
  w.Key("paths").BeginObject();
  // Group the operations by path, in the table's order of first appearance.
  std::vector<std::string_view> patterns;
  for (const Route& r : internal::RouteTable()) {
    if (std::find(patterns.begin(), patterns.end(), r.pattern) == patterns.end()) {
      patterns.push_back(r.pattern);
    }
  }
  for (std::string_view pattern : patterns) {
    w.Key(pattern).BeginObject();
    for (const Route& r : internal::RouteTable()) {
      if (r.pattern == pattern) WriteOperation(w, r);
    }
    w.EndObject();
  }
  w.EndObject();
  w.Key("components").BeginObject();
  w.Key("securitySchemes").BeginObject();
  w.Key("bearerAuth").BeginObject();
  w.Key("type").String("http");
  w.Key("scheme").String("bearer");
  w.Key("description").String("The admin token, or the read-only token (GET only).");
  w.EndObject();
  w.EndObject();
  WriteSchemas(w);
  w.EndObject();
  w.EndObject();
  return w.Release();
}

}  // namespace

std::string ControlApi::OpenApiJson() {
  static const std::string kDocument = BuildDocument();
  return kDocument;
}

}  // namespace mlcanary::api
