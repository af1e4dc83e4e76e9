// JSON of the hooks.
#include "codec/hook_json.h"

#include <boost/json.hpp>

#include "codec/domain_json.h"
#include "util/json_writer.h"

namespace mlcanary::codec {
namespace json = boost::json;

std::string HookBodyJson(const core::HookRequest& request) {
  // The policy's hook URLs may carry tokens meant for other receivers: each
  // hook sees them redacted (no credentials, no query).
  core::Deployment d = request.deployment;
  for (auto& hook : d.policy.hooks.at) {
    if (hook) hook->url = core::RedactHookUrl(hook->url);
  }
  for (auto& hook : d.policy.analysis) hook.url = core::RedactHookUrl(hook.url);
  util::JsonWriter w;
  w.BeginObject();
  w.Key("hook").String(request.hook);
  w.Key("deployment");
  WriteDeployment(w, d);
  w.Key("last_check");
  if (request.last_check) {
    WriteHealthReport(w, *request.last_check);
  } else {
    w.Null();
  }
  w.Key("metadata").BeginObject();
  for (const auto& [k, v] : request.spec.metadata) w.Key(k).String(v);
  w.EndObject();
  w.EndObject();
  return w.Release();
}

core::Result<AnalysisAnswer> ParseAnalysisAnswer(std::string_view body) {
  constexpr std::string_view kWhere = "analysis answer";
  auto v = ParseJson(body, kWhere);
  if (!v) return std::unexpected(v.error());
  if (!v->is_object()) {
    return core::ValidationError(std::string(kWhere) +
                                 ": expected an object {\"verdict\": "
                                 "\"healthy|breached|inconclusive\", \"reason\": ...}");
  }
  const json::object& o = v->get_object();
  const json::value* verdict = o.if_contains("verdict");
  if (verdict == nullptr) {
    return core::ValidationError(std::string(kWhere) +
                                 ": verdict: missing (healthy, breached or inconclusive)");
  }
  if (!verdict->is_string()) {
    return core::ValidationError(std::string(kWhere) + ": verdict: expected a string");
  }
  const std::string name(verdict->get_string());
  auto parsed = core::ParseAnalysisVerdict(name);
  if (!parsed) {
    return core::ValidationError(std::string(kWhere) + ": verdict: '" + name +
                                 "' is not healthy, breached or inconclusive");
  }
  AnalysisAnswer answer;
  answer.verdict = *parsed;
  if (const json::value* reason = o.if_contains("reason"); reason && !reason->is_null()) {
    if (!reason->is_string()) {
      return core::ValidationError(std::string(kWhere) + ": reason: expected a string");
    }
    answer.reason = std::string(reason->get_string());
  }
  return answer;
}

}  // namespace mlcanary::codec
