// The control API's router, auth and handlers.
#include "api/control_api.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cstdint>
#include <iterator>
#include <optional>
#include <thread>
#include <utility>

#include "api/internal/list_query.h"
#include "api/internal/route_table.h"
#include "codec/domain_json.h"
#include "core/time.h"
#include "dashboard/assets.h"
#include "http/http_status.h"
#include "util/json_writer.h"

namespace mlcanary::api {

namespace json = boost::json;
using internal::Access;
using internal::BodyKind;
using internal::Route;
using internal::RouteId;

namespace {

constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4";
constexpr std::size_t kMaxInstances = 1000;

// Compares a presented token with a configured one in time that depends only
// on the configured token's length, never on where they first differ.
bool TokenEquals(std::string_view presented, std::string_view expected) {
  unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const unsigned char p = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
    diff |= static_cast<unsigned char>(p ^ static_cast<unsigned char>(expected[i]));
  }
  return diff == 0;
}

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.starts_with('/')) path.remove_prefix(1);
  while (true) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// The request's path segments, each percent-decoded on its own: split before
// decoding, so that an id holding an encoded '/' ("a%2Fb") stays one segment
// and names no other route. (The server has checked the target's escapes.)
std::vector<std::string> PathSegments(const http::Request& request) {
  std::vector<std::string> out;
  if (request.target.empty()) {  // a Request built by hand: its path is all there is
    for (std::string_view s : SplitPath(request.path)) out.emplace_back(s);
    return out;
  }
  const std::string_view raw =
      std::string_view(request.target).substr(0, request.target.find_first_of("?#"));
  for (std::string_view s : SplitPath(raw)) {
    out.push_back(http::PercentDecode(s, /*plus_is_space=*/false).value_or(std::string(s)));
  }
  return out;
}

// Matches `path` against `pattern`; on a match, `param` holds the value of the
// pattern's {parameter} (the table's patterns have at most one).
bool MatchPattern(std::string_view pattern, const std::vector<std::string>& segments,
                  std::string& param) {
  const auto parts = SplitPath(pattern);
  if (parts.size() != segments.size()) return false;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].starts_with('{')) {
      if (segments[i].empty()) return false;
      param = std::string(segments[i]);
    } else if (parts[i] != segments[i]) {
      return false;
    }
  }
  return true;
}

bool IsJsonMediaType(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) media.remove_prefix(1);
  std::string lower(media);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lower == "application/json";
}

bool ValidVariantName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// Inserts `"key":<value_json>` as the last member of the JSON object `object`.
void AppendMember(std::string& object, std::string_view key, std::string_view value_json) {
  object.pop_back();  // the closing '}'
  if (object.size() > 1) object += ',';
  util::AppendJsonString(object, key);
  object += ':';
  object += value_json;
  object += '}';
}

std::string JsonStringOrNull(const std::optional<std::string>& value) {
  if (!value) return "null";
  std::string out;
  util::AppendJsonString(out, *value);
  return out;
}

// A deployment as stored, with what the controller knows that the store does
// not (yet): "last_check_error" ({time, message} of the last check that could
// not be made or recorded, or null) and "unrecorded" ({checks, rollback}: the
// checks and the rollback the store did not take, or null).
std::string DeploymentWithNotes(const core::Deployment& d,
                                const std::optional<controller::DeploymentNotes>& notes) {
  std::string out = codec::DeploymentJson(d);
  util::JsonWriter error;
  if (notes && notes->last_check_error) {
    error.BeginObject();
    error.Key("time").String(core::FormatRfc3339(notes->last_check_error_at));
    error.Key("message").String(notes->last_check_error->ToString());
    error.EndObject();
  } else {
    error.Null();
  }
  AppendMember(out, "last_check_error", error.Release());
  util::JsonWriter unrecorded;
  if (notes && (notes->unrecorded_checks > 0 || notes->rollback_pending)) {
    unrecorded.BeginObject();
    unrecorded.Key("checks").Int(notes->unrecorded_checks);
    unrecorded.Key("rollback");
    if (notes->rollback_pending) {
      unrecorded.BeginObject();
      unrecorded.Key("time").String(core::FormatRfc3339(notes->rollback_at));
      unrecorded.Key("reason").String(notes->rollback_reason);
      unrecorded.Key("state").String(core::StateName(notes->rollback_state));
      unrecorded.Key("traffic").String("production");
      unrecorded.EndObject();
    } else {
      unrecorded.Null();
    }
    unrecorded.EndObject();
  } else {
    unrecorded.Null();
  }
  AppendMember(out, "unrecorded", unrecorded.Release());
  return out;
}

http::Response DeploymentResponse(int status, const core::Deployment& d,
                                  const controller::Controller& controller) {
  return http::JsonResponse(status, DeploymentWithNotes(d, controller.Notes(d.id)));
}

// An embedded dashboard file, or 404. The page loads nothing from elsewhere
// (the policy says so to the browser) and is revalidated on every load, so a
// new binary's page shows at once.
http::Response DashboardResponse(std::string_view name) {
  const auto asset = dashboard::FindAsset(name);
  if (!asset) return http::ErrorResponse(404, "NotFound", "no dashboard file " + std::string(name));
  http::Response r;
  r.content_type = std::string(asset->content_type);
  r.body = std::string(asset->body);
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (name == dashboard::kIndexName) {
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                           "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                           "base-uri 'none'");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  return r;
}

}  // namespace

int HttpStatusFor(core::ErrorCode code) { return http::HttpStatusFor(code); }

http::Response ErrorResponseFor(const core::Error& error) {
  http::Response r = http::ErrorResponse(HttpStatusFor(error.code()),
                                         core::ErrorCodeName(error.code()), error.message());
  if (error.code() == core::ErrorCode::kUnauthenticated) {
    r.headers.emplace_back("WWW-Authenticate", R"(Bearer realm="mlcanary")");
  }
  if (error.retryable()) r.headers.emplace_back("Retry-After", "1");
  return r;
}

struct ControlApi::Impl {
  Impl(ApiOptions api_options, ApiDependencies dependencies)
      : options(std::move(api_options)), deps(std::move(dependencies)) {}

  // Who sent the request: the actor name and whether it may mutate.
  struct Caller {
    std::string actor;
    bool admin = false;
  };
  core::Result<std::optional<Caller>> Authenticate(const http::Request& request) const;

  http::Response Dispatch(const Route& route, const http::Request& request,
                          const std::string& param, const Caller& caller) const;

  http::Response ListEndpoints() const;
  http::Response GetEndpoint(const std::string& name) const;
  http::Response ListDeployments(const http::Request& request) const;
  http::Response CreateDeployment(const json::value& body, const Caller& caller) const;
  http::Response GetDeployment(const std::string& id) const;
  http::Response ListEvents(const std::string& id, const http::Request& request) const;
  http::Response Act(RouteId id, const std::string& deployment_id, const Caller& caller) const;
  // Fleet mode: records the action for the leader and waits for it
  // (ApiOptions::leader_action_wait).
  http::Response AskLeader(core::UserAction action, const std::string& deployment_id,
                           const Caller& caller) const;

  // The id of the deployment active on `endpoint`, if any.
  core::Result<std::optional<std::string>> ActiveDeployment(const std::string& endpoint) const;
  // The policy a deployment on `endpoint` starts from.
  const core::Policy& BasePolicy(std::string_view endpoint) const {
    auto it = options.endpoint_policies.find(endpoint);
    return it == options.endpoint_policies.end() ? options.default_policy : it->second;
  }

  const ApiOptions options;
  const ApiDependencies deps;
};

core::Result<std::unique_ptr<ControlApi>> ControlApi::Create(ApiOptions options,
                                                             ApiDependencies deps) {
  if (options.admin_token.empty() && !options.allow_no_auth) {
    return core::ValidationError(
        "control API: no admin token configured (auth.admin_token_env); refusing to serve the "
        "API without authentication unless allow_no_auth is set");
  }
  if (options.admin_token.empty() && !options.reader_token.empty()) {
    return core::ValidationError(
        "control API: a reader token needs an admin token (without one, everyone is admin)");
  }
  if (!options.reader_token.empty() && options.reader_token == options.admin_token) {
    return core::ValidationError("control API: the reader token equals the admin token");
  }
  if (options.admin_name.empty() || options.reader_name.empty()) {
    return core::ValidationError("control API: token names must not be empty");
  }
  if (!deps.new_deployment_id) {
    return core::ValidationError("control API: no deployment id generator");
  }
  if (!deps.metrics_text) return core::ValidationError("control API: no metrics source");
  for (const auto& [endpoint, policy] : options.endpoint_policies) {
    if (auto s = core::ValidatePolicy(policy); !s) {
      return std::unexpected(s.error().WithContext("control API: endpoint '" + endpoint + "'"));
    }
  }
  return std::unique_ptr<ControlApi>(
      new ControlApi(std::make_unique<Impl>(std::move(options), std::move(deps))));
}

ControlApi::ControlApi(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ControlApi::~ControlApi() = default;

std::vector<RouteInfo> ControlApi::Routes() {
  std::vector<RouteInfo> out;
  for (const Route& r : internal::RouteTable()) {
    out.push_back({std::string(r.method), std::string(r.pattern)});
  }
  return out;
}

http::Handler ControlApi::handler() const {
  return [this](const http::Request& request) { return Handle(request); };
}

core::Result<std::optional<ControlApi::Impl::Caller>> ControlApi::Impl::Authenticate(
    const http::Request& request) const {
  if (options.admin_token.empty()) return Caller{options.admin_name, true};  // allow_no_auth
  const std::string_view header = request.Header("Authorization");
  if (header.empty()) {
    return core::MakeError(core::ErrorCode::kUnauthenticated,
                           "missing bearer token (Authorization: Bearer <token>)");
  }
  constexpr std::string_view kScheme = "bearer ";
  std::string scheme(header.substr(0, kScheme.size()));
  for (char& c : scheme) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (header.size() <= kScheme.size() || scheme != kScheme) {
    return core::MakeError(core::ErrorCode::kUnauthenticated,
                           "the Authorization header must be 'Bearer <token>'");
  }
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  // Both comparisons always run, so the time taken does not tell which token matched.
  const bool admin = TokenEquals(token, options.admin_token);
  const bool reader = !options.reader_token.empty() && TokenEquals(token, options.reader_token);
  if (admin) return Caller{options.admin_name, true};
  if (reader) return Caller{options.reader_name, false};
  return core::MakeError(core::ErrorCode::kUnauthenticated, "invalid bearer token");
}

http::Response ControlApi::Handle(const http::Request& request) const {
  const auto segments = PathSegments(request);
  const Route* route = nullptr;
  std::string param;
  std::string allow;
  for (const Route& r : internal::RouteTable()) {
    std::string value;
    if (!MatchPattern(r.pattern, segments, value)) continue;
    if (r.method == request.method) {
      route = &r;
      param = std::move(value);
      break;
    }
    if (!allow.empty()) allow += ", ";
    allow += r.method;
  }
  if (route == nullptr && allow.empty()) {
    return http::ErrorResponse(404, "NotFound", "no route " + request.path);
  }
  if (route == nullptr) {
    http::Response r = http::ErrorResponse(405, "MethodNotAllowed",
                                           request.method + " is not allowed on " + request.path);
    r.headers.emplace_back("Allow", allow);
    return r;
  }

  Impl::Caller caller{impl_->options.admin_name, true};
  const bool open = route->access == Access::kPublic ||
                    (route->access == Access::kMetrics && impl_->options.public_metrics);
  if (!open) {
    auto authenticated = impl_->Authenticate(request);
    if (!authenticated) return ErrorResponseFor(authenticated.error());
    caller = **authenticated;
    if (route->access == Access::kAdmin && !caller.admin) {
      return ErrorResponseFor(core::Error(core::ErrorCode::kPermissionDenied,
                                          "the token of '" + caller.actor + "' is read-only; " +
                                              request.method + " " + request.path +
                                              " needs the admin token"));
    }
  }
  return impl_->Dispatch(*route, request, param, caller);
}

http::Response ControlApi::Impl::Dispatch(const Route& route, const http::Request& request,
                                          const std::string& param, const Caller& caller) const {
  std::optional<json::value> body;
  if (route.body != BodyKind::kNone) {
    const bool empty_allowed = route.body == BodyKind::kEmptyOrEmptyJson;
    if (!(empty_allowed && request.body.empty())) {
      if (!IsJsonMediaType(request.Header("Content-Type"))) {
        return http::ErrorResponse(415, "UnsupportedMediaType",
                                   "Content-Type must be application/json");
      }
      auto parsed = codec::ParseJson(request.body, "body");
      if (!parsed) return ErrorResponseFor(parsed.error());
      if (!parsed->is_object()) {
        return ErrorResponseFor(
            core::Error(core::ErrorCode::kValidation, "body: expected a JSON object"));
      }
      if (empty_allowed && !parsed->get_object().empty()) {
        return ErrorResponseFor(core::Error(
            core::ErrorCode::kValidation,
            "body." + std::string(parsed->get_object().begin()->key()) + ": unknown key"));
      }
      body = std::move(*parsed);
    }
  }
  // Query parameters the route does not know are refused: a typo
  // ("?status=FAILED") would otherwise silently list everything.
  for (const auto& [key, value] : request.query) {
    bool known = false;
    for (const auto& q : route.query) known = known || q.name == key;
    if (!known) {
      return ErrorResponseFor(
          core::Error(core::ErrorCode::kValidation, "query." + key + ": unknown parameter"));
    }
  }

  switch (route.id) {
    case RouteId::kHealthz:
      return http::JsonResponse(200, R"({"status":"ok"})");
    case RouteId::kMetrics: {
      http::Response r;
      r.content_type = kPrometheusContentType;
      r.body = deps.metrics_text();
      return r;
    }
    case RouteId::kOpenApi:
      return http::JsonResponse(200, ControlApi::OpenApiJson());
    case RouteId::kListEndpoints:
      return ListEndpoints();
    case RouteId::kGetEndpoint:
      return GetEndpoint(param);
    case RouteId::kListDeployments:
      return ListDeployments(request);
    case RouteId::kCreateDeployment:
      return CreateDeployment(*body, caller);
    case RouteId::kGetDeployment:
      return GetDeployment(param);
    case RouteId::kListEvents:
      return ListEvents(param, request);
    case RouteId::kComplete:
    case RouteId::kCancel:
    case RouteId::kRollback:
    case RouteId::kPause:
    case RouteId::kResume:
    case RouteId::kApprove:
      return Act(route.id, param, caller);
    case RouteId::kDashboard:
      return DashboardResponse(dashboard::kIndexName);
    case RouteId::kDashboardAsset:
      return DashboardResponse(param);
  }
  return ErrorResponseFor(core::Error(core::ErrorCode::kInternal, "unrouted request"));
}

core::Result<std::optional<std::string>> ControlApi::Impl::ActiveDeployment(
    const std::string& endpoint) const {
  core::DeploymentFilter filter;
  filter.endpoint = endpoint;
  filter.active_only = true;
  auto active = deps.store.List(filter);
  if (!active) return std::unexpected(active.error());
  if (active->empty()) return std::nullopt;
  return active->front().id;
}

http::Response ControlApi::Impl::ListEndpoints() const {
  auto names = deps.store.ListEndpoints();
  if (!names) return ErrorResponseFor(names.error());
  core::DeploymentFilter filter;
  filter.active_only = true;
  auto active = deps.store.List(filter);
  if (!active) return ErrorResponseFor(active.error());
  std::string out = R"({"endpoints":[)";
  bool first = true;
  for (const core::Endpoint& stored : *names) {
    auto live = deps.traffic.DescribeEndpoint(stored.name);
    if (!live && live.error().code() == core::ErrorCode::kNotFound) continue;  // not served now
    if (!live) return ErrorResponseFor(live.error());
    std::optional<std::string> active_id;
    for (const core::Deployment& d : *active) {
      if (d.endpoint == live->name) {
        active_id = d.id;
        break;
      }
    }
    util::JsonWriter w;
    codec::WriteEndpoint(w, *live);
    std::string item = w.Release();
    AppendMember(item, "active_deployment", JsonStringOrNull(active_id));
    if (!first) out += ',';
    first = false;
    out += item;
  }
  out += "]}";
  return http::JsonResponse(200, std::move(out));
}

http::Response ControlApi::Impl::GetEndpoint(const std::string& name) const {
  auto live = deps.traffic.DescribeEndpoint(name);
  if (!live) return ErrorResponseFor(live.error());
  auto active = ActiveDeployment(live->name);
  if (!active) return ErrorResponseFor(active.error());
  util::JsonWriter w;
  codec::WriteEndpoint(w, *live);
  std::string out = w.Release();
  AppendMember(out, "active_deployment", JsonStringOrNull(*active));
  return http::JsonResponse(200, std::move(out));
}

http::Response ControlApi::Impl::ListDeployments(const http::Request& request) const {
  auto filter = internal::ParseListQuery(request);
  if (!filter) return ErrorResponseFor(filter.error());
  // One more than the page: whether a next page exists, without another query.
  const std::size_t page = filter->limit;
  if (page > 0) filter->limit = page + 1;
  auto list = deps.store.List(*filter);
  if (!list) return ErrorResponseFor(list.error());
  std::optional<std::string> next;
  if (page > 0 && list->size() > page) {
    list->resize(page);
    next =
        internal::EncodePageToken({.created_at = list->back().created_at, .id = list->back().id});
  }
  std::string out = R"({"deployments":[)";
  for (std::size_t i = 0; i < list->size(); ++i) {
    const core::Deployment& d = (*list)[i];
    if (i > 0) out += ',';
    out += DeploymentWithNotes(d, deps.controller.Notes(d.id));
  }
  out += "]";
  if (next) out += R"(,"next_page_token":)" + JsonStringOrNull(next);
  out += "}";
  return http::JsonResponse(200, std::move(out));
}

http::Response ControlApi::Impl::CreateDeployment(const json::value& body,
                                                  const Caller& caller) const {
  auto invalid = [](std::string message) {
    return ErrorResponseFor(core::Error(core::ErrorCode::kValidation, std::move(message)));
  };
  const json::object& o = body.get_object();
  for (const auto& kv : o) {
    static constexpr std::string_view kKeys[] = {"endpoint", "model",     "variant",
                                                 "policy",   "instances", "keep_previous"};
    if (std::find(std::begin(kKeys), std::end(kKeys), kv.key()) == std::end(kKeys)) {
      return invalid("body." + std::string(kv.key()) + ": unknown key");
    }
  }
  controller::StartRequest start;
  start.actor = caller.actor;
  const json::value* endpoint = o.if_contains("endpoint");
  if (endpoint == nullptr) return invalid("body.endpoint: missing");
  if (!endpoint->is_string() || endpoint->get_string().empty()) {
    return invalid("body.endpoint: expected a non-empty string");
  }
  start.endpoint = std::string(endpoint->get_string());
  const json::value* model = o.if_contains("model");
  if (model == nullptr) return invalid("body.model: missing");
  auto spec = codec::ParseModelSpec(*model, "body.model");
  if (!spec) return ErrorResponseFor(spec.error());
  start.model = *spec;
  if (const json::value* variant = o.if_contains("variant")) {
    if (!variant->is_string()) return invalid("body.variant: expected a string");
    if (!ValidVariantName(variant->get_string())) {
      return invalid("body.variant: 1 to 63 characters of A-Z a-z 0-9 - _ .");
    }
    start.canary_variant = std::string(variant->get_string());
  }
  if (const json::value* instances = o.if_contains("instances")) {
    std::int64_t n = 0;
    if (instances->is_int64()) {
      n = instances->get_int64();
    } else if (instances->is_uint64()) {
      n = instances->get_uint64() > kMaxInstances ? kMaxInstances + 1 : 0;
    } else {
      return invalid("body.instances: expected an integer");
    }
    if (n < 1 || n > static_cast<std::int64_t>(kMaxInstances)) {
      return invalid("body.instances: must be between 1 and " + std::to_string(kMaxInstances));
    }
    start.instances = static_cast<int>(n);
  }
  if (const json::value* keep = o.if_contains("keep_previous")) {
    if (!keep->is_bool()) return invalid("body.keep_previous: expected true or false");
    start.keep_previous = keep->get_bool();
  }
  const core::Policy& base = BasePolicy(start.endpoint);
  if (const json::value* policy = o.if_contains("policy")) {
    auto parsed = codec::ParsePolicy(*policy, "body.policy", base);
    if (!parsed) return ErrorResponseFor(parsed.error());
    start.policy = *parsed;
  } else {
    start.policy = base;
  }
  start.id = deps.new_deployment_id();
  auto started = deps.controller.StartDeployment(start);
  if (!started) {
    // The deployment may have been recorded (and failed) before the error:
    // name it, so the caller can read its events.
    if (auto recorded = deps.store.Get(start.id)) {
      return ErrorResponseFor(started.error().WithContext(
          "deployment '" + start.id + "' " + std::string(core::StateName(recorded->state))));
    }
    return ErrorResponseFor(started.error());
  }
  core::Deployment latest = *started;
  // Fleet mode: the leader readies the canary; answer with the deployment as
  // it left it, or PENDING when the wait ran out (the leader goes on).
  if (options.leader_action_wait > core::Duration::zero()) {
    const auto deadline = std::chrono::steady_clock::now() + options.leader_action_wait;
    while (latest.state == core::DeploymentState::kPending &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      auto d = deps.store.Get(latest.id);
      if (!d) break;
      latest = std::move(*d);
    }
  }
  http::Response r = DeploymentResponse(201, latest, deps.controller);
  r.headers.emplace_back("Location", "/v1/deployments/" + latest.id);
  return r;
}

http::Response ControlApi::Impl::GetDeployment(const std::string& id) const {
  auto d = deps.store.Get(id);
  if (!d) return ErrorResponseFor(d.error());
  return DeploymentResponse(200, *d, deps.controller);
}

http::Response ControlApi::Impl::ListEvents(const std::string& id,
                                            const http::Request& request) const {
  std::int64_t after = 0;
  if (auto text = request.Query("after")) {
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), after);
    if (text->empty() || ec != std::errc() || end != text->data() + text->size() || after < 0) {
      return ErrorResponseFor(
          core::Error(core::ErrorCode::kValidation, "query.after: expected an integer >= 0"));
    }
  }
  auto d = deps.store.Get(id);
  if (!d) return ErrorResponseFor(d.error());
  auto events = deps.store.ListEvents(id, after);
  if (!events) return ErrorResponseFor(events.error());
  util::JsonWriter w;
  w.BeginObject();
  w.Key("deployment_id").String(d->id);
  w.Key("events").BeginArray();
  for (const core::DeploymentEvent& e : *events) codec::WriteEvent(w, e);
  w.EndArray().EndObject();
  return http::JsonResponse(200, w.Release());
}

http::Response ControlApi::Impl::AskLeader(core::UserAction action,
                                           const std::string& deployment_id,
                                           const Caller& caller) const {
  auto asked = deps.controller.Request(deployment_id, action, caller.actor);
  if (!asked) return ErrorResponseFor(asked.error());
  core::Deployment latest = *asked;
  const auto deadline = std::chrono::steady_clock::now() + options.leader_action_wait;
  while (latest.requested && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto d = deps.store.Get(deployment_id);
    if (!d) return ErrorResponseFor(d.error());
    latest = std::move(*d);
  }
  return DeploymentResponse(latest.requested ? 202 : 200, latest, deps.controller);
}

http::Response ControlApi::Impl::Act(RouteId id, const std::string& deployment_id,
                                     const Caller& caller) const {
  static constexpr std::pair<RouteId, core::UserAction> kActions[] = {
      {RouteId::kComplete, core::UserAction::kComplete},
      {RouteId::kCancel, core::UserAction::kCancel},
      {RouteId::kRollback, core::UserAction::kRollback},
      {RouteId::kPause, core::UserAction::kPause},
      {RouteId::kResume, core::UserAction::kResume},
      {RouteId::kApprove, core::UserAction::kApprove}};
  const auto* found = std::find_if(std::begin(kActions), std::end(kActions),
                                   [id](const auto& entry) { return entry.first == id; });
  if (found == std::end(kActions)) {
    return ErrorResponseFor(core::Error(core::ErrorCode::kInternal, "not an action route"));
  }
  if (options.leader_action_wait > core::Duration::zero()) {
    return AskLeader(found->second, deployment_id, caller);
  }
  auto result = deps.controller.Perform(deployment_id, found->second, caller.actor);
  if (!result) return ErrorResponseFor(result.error());
  return DeploymentResponse(200, *result, deps.controller);
}

}  // namespace mlcanary::api
