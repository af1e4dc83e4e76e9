// JSON encoding and decoding of domain values.
#include "codec/domain_json.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/policy_fields.h"

namespace mlcanary::codec {
namespace json = boost::json;
using core::Result;

namespace {

std::string Join(std::string_view where, std::string_view key) {
  if (where.empty()) return std::string(key);
  return std::string(where) + "." + std::string(key);
}

// Reads the fields of one JSON object, with errors naming "where.key".
class Fields {
 public:
  Fields(const json::object& object, std::string_view where) : object_(object), where_(where) {}

  static Result<Fields> Of(const json::value& v, std::string_view where) {
    if (!v.is_object()) return core::ValidationError(std::string(where) + ": expected an object");
    return Fields(v.get_object(), where);
  }

  core::Status OnlyKeys(std::initializer_list<std::string_view> allowed) const {
    return OnlyKeys(std::span(allowed.begin(), allowed.size()));
  }
  core::Status OnlyKeys(std::span<const std::string_view> allowed) const {
    for (const auto& kv : object_) {
      bool known = false;
      for (auto a : allowed) known = known || a == kv.key();
      if (!known) return core::ValidationError(Join(where_, kv.key()) + ": unknown key");
    }
    return core::Ok();
  }

  const json::value* Get(std::string_view key) const {
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &it->value();
  }
  bool Has(std::string_view key) const { return Get(key) != nullptr; }
  std::string Path(std::string_view key) const { return Join(where_, key); }

  std::unexpected<core::Error> Missing(std::string_view key) const {
    return core::ValidationError(Path(key) + ": missing");
  }

  Result<double> Number(std::string_view key) const {
    const json::value* v = Get(key);
    if (v == nullptr) return Missing(key);
    double out = 0;
    if (v->is_double()) {
      out = v->get_double();
    } else if (v->is_int64()) {
      out = static_cast<double>(v->get_int64());
    } else if (v->is_uint64()) {
      out = static_cast<double>(v->get_uint64());
    } else {
      return core::ValidationError(Path(key) + ": expected a number");
    }
    if (!std::isfinite(out)) return core::ValidationError(Path(key) + ": expected a finite number");
    return out;
  }

  Result<std::int64_t> Int(std::string_view key) const {
    const json::value* v = Get(key);
    if (v == nullptr) return Missing(key);
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64() &&
        v->get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return static_cast<std::int64_t>(v->get_uint64());
    }
    if (v->is_double() && std::trunc(v->get_double()) == v->get_double() &&
        std::fabs(v->get_double()) < 9e15) {
      return static_cast<std::int64_t>(v->get_double());
    }
    return core::ValidationError(Path(key) + ": expected an integer");
  }

  Result<bool> Bool(std::string_view key) const {
    const json::value* v = Get(key);
    if (v == nullptr) return Missing(key);
    if (!v->is_bool()) return core::ValidationError(Path(key) + ": expected true or false");
    return v->get_bool();
  }

  Result<std::string> String(std::string_view key) const {
    const json::value* v = Get(key);
    if (v == nullptr) return Missing(key);
    if (!v->is_string()) return core::ValidationError(Path(key) + ": expected a string");
    return std::string(v->get_string());
  }

  Result<core::Duration> Duration(std::string_view key) const {
    auto text = String(key);
    if (!text) return std::unexpected(text.error());
    auto d = core::ParseDuration(*text);
    if (!d) return core::ValidationError(Path(key) + ": " + d.error().message());
    return *d;
  }

  Result<core::Timestamp> Time(std::string_view key) const {
    auto text = String(key);
    if (!text) return std::unexpected(text.error());
    auto t = core::ParseRfc3339(*text);
    if (!t) return core::ValidationError(Path(key) + ": " + t.error().message());
    return *t;
  }

 private:
  const json::object& object_;
  std::string where_;
};

#define MLCANARY_TRY_ASSIGN(target, expr)                                \
  do {                                                                   \
    auto mlcanary_value = (expr);                                        \
    if (!mlcanary_value) return std::unexpected(mlcanary_value.error()); \
    target = std::move(*mlcanary_value);                                 \
  } while (0)

void WriteTimeOrNull(util::JsonWriter& w, const std::optional<core::Timestamp>& t) {
  if (t) {
    w.String(core::FormatRfc3339(*t));
  } else {
    w.Null();
  }
}

}  // namespace

namespace {

// One hook: {url, timeout, retries, metadata (when any)}.
void WriteHookSpec(util::JsonWriter& w, const core::HookSpec& h) {
  w.BeginObject();
  w.Key("url").String(h.url);
  w.Key("timeout").String(core::FormatDuration(h.timeout));
  w.Key("retries").Int(h.retries);
  if (!h.metadata.empty()) {
    w.Key("metadata").BeginObject();
    for (const auto& [k, v] : h.metadata) w.Key(k).String(v);
    w.EndObject();
  }
  w.EndObject();
}

}  // namespace

void WritePolicy(util::JsonWriter& w, const core::Policy& p) {
  w.BeginObject();
  const auto fields = core::PolicyFields();
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const core::PolicyField& field = fields[i];
    if (!core::PolicyFieldInUse(field, p)) continue;
    // A group's fields are adjacent: its object opens at the first, closes after the last.
    const std::string_view group = core::GroupOf(field);
    if (!group.empty() && (i == 0 || core::GroupOf(fields[i - 1]) != group)) {
      w.Key(group).BeginObject();
    }
    w.Key(core::KeyOf(field));
    core::VisitPolicyField(field, p, [&](const auto& value) {
      using T = std::remove_cvref_t<decltype(value)>;
      if constexpr (std::is_same_v<T, std::vector<core::PolicyStep>>) {
        // A step with only a weight is a plain number, as before steps had keys.
        w.BeginArray();
        for (const core::PolicyStep& step : value) {
          if (step.plain()) {
            w.Number(step.weight);
            continue;
          }
          w.BeginObject();
          w.Key("weight").Number(step.weight);
          if (step.bake) w.Key("bake").String(core::FormatDuration(*step.bake));
          if (step.manual_gate) w.Key("gate").String(core::kGateManual);
          w.EndObject();
        }
        w.EndArray();
      } else if constexpr (std::is_same_v<T, core::PolicyHooks>) {
        w.BeginObject();
        for (std::size_t h = 0; h < core::kNumHookPoints; ++h) {
          if (!value.at[h]) continue;
          w.Key(core::kHookPointNames[h]);
          WriteHookSpec(w, *value.at[h]);
        }
        w.EndObject();
      } else if constexpr (std::is_same_v<T, std::vector<core::HookSpec>>) {
        w.BeginArray();
        for (const core::HookSpec& h : value) WriteHookSpec(w, h);
        w.EndArray();
      } else if constexpr (std::is_same_v<T, double>) {
        w.Number(value);
      } else if constexpr (std::is_same_v<T, core::Duration>) {
        w.String(core::FormatDuration(value));
      } else if constexpr (std::is_same_v<T, bool>) {
        w.Bool(value);
      } else if constexpr (std::is_enum_v<T>) {
        w.String(core::ChoiceName(field, static_cast<std::size_t>(value)));
      } else {
        w.Int(value);
      }
    });
    if (!group.empty() && (i + 1 == fields.size() || core::GroupOf(fields[i + 1]) != group)) {
      w.EndObject();
    }
  }
  w.EndObject();
}

void WriteModelSpec(util::JsonWriter& w, const core::ModelSpec& m) {
  w.BeginObject();
  w.Key("kind").String(core::ModelKindName(m.kind));
  if (m.kind == core::ModelKind::kXgboost) {
    w.Key("path").String(m.path);
  } else if (m.kind == core::ModelKind::kSagemaker) {
    w.Key("name").String(m.name);
    if (!m.instance_type.empty()) w.Key("instance_type").String(m.instance_type);
  } else {
    w.Key("url").String(m.url);
    w.Key("timeout").String(core::FormatDuration(m.timeout));
  }
  w.EndObject();
}

void WriteWindowMetrics(util::JsonWriter& w, const core::WindowMetrics& m) {
  w.BeginObject();
  w.Key("invocations").Int(m.invocations);
  w.Key("errors_4xx").Int(m.errors_4xx);
  w.Key("errors_5xx").Int(m.errors_5xx);
  w.Key("error_rate").Number(m.error_rate());
  w.Key("p50_ms").Number(m.p50_ms);
  w.Key("p90_ms").Number(m.p90_ms);
  w.Key("p99_ms").Number(m.p99_ms);
  w.Key("overhead_ms").Number(m.overhead_ms);
  if (m.cpu_utilization) w.Key("cpu_utilization").Number(*m.cpu_utilization);
  if (m.memory_utilization) w.Key("memory_utilization").Number(*m.memory_utilization);
  w.EndObject();
}

void WriteHealthReport(util::JsonWriter& w, const core::HealthReport& r) {
  w.BeginObject();
  w.Key("verdict").String(core::VerdictName(r.verdict));
  w.Key("latency_breached").Bool(r.latency_breached);
  w.Key("error_breached").Bool(r.error_breached);
  w.Key("canary");
  WriteWindowMetrics(w, r.canary);
  w.Key("production");
  WriteWindowMetrics(w, r.production);
  w.Key("latency_ratio");
  if (r.latency_ratio) {
    w.Number(*r.latency_ratio);
  } else {
    w.Null();
  }
  w.Key("error_rate_diff").Number(r.error_rate_diff);
  // Issue 14: the latency judge's test and the prediction divergence.
  w.Key("divergence_breached").Bool(r.divergence_breached);
  if (r.latency_test) {
    w.Key("latency_test").BeginObject();
    w.Key("u").Number(r.latency_test->test.u);
    w.Key("z").Number(r.latency_test->test.z);
    w.Key("p").Number(r.latency_test->test.p);
    w.Key("effect").Number(r.latency_test->effect);
    w.EndObject();
  }
  if (r.psi) w.Key("psi").Number(*r.psi);
  if (r.paired) {
    w.Key("paired").BeginObject();
    w.Key("pairs").Int(r.paired->pairs);
    w.Key("disagreement").Number(r.paired->disagreement);
    w.Key("mean_abs_diff").Number(r.paired->mean_abs_diff);
    w.EndObject();
  }
  // Issue 15: the analysis hooks' votes (absent without analysis hooks).
  if (!r.analysis.empty() || r.analysis_breached) {
    w.Key("analysis_breached").Bool(r.analysis_breached);
    w.Key("analysis").BeginArray();
    for (const core::AnalysisResult& a : r.analysis) {
      w.BeginObject();
      w.Key("url").String(a.url);
      w.Key("verdict").String(core::AnalysisVerdictName(a.verdict));
      w.Key("reason").String(a.reason);
      w.Key("status").Int(a.status);
      w.EndObject();
    }
    w.EndArray();
  }
  w.Key("thresholds").BeginObject();
  w.Key("max_p99_ms").Number(r.thresholds.max_p99_ms);
  w.Key("max_error_rate").Number(r.thresholds.max_error_rate);
  w.Key("max_latency_ratio").Number(r.thresholds.max_latency_ratio);
  w.Key("max_error_rate_diff").Number(r.thresholds.max_error_rate_diff);
  w.Key("min_invocations").Int(r.thresholds.min_invocations);
  w.Key("latency_ratio_min_p99_ms").Number(r.thresholds.latency_ratio_min_p99_ms);
  w.Key("latency_judge")
      .String(core::kLatencyJudgeNames[static_cast<std::size_t>(r.thresholds.latency_judge)]);
  w.Key("latency_alpha").Number(r.thresholds.latency_alpha);
  w.Key("latency_min_effect").Number(r.thresholds.latency_min_effect);
  w.Key("divergence_psi_max").Number(r.thresholds.divergence_psi_max);
  w.Key("divergence_min_predictions").Int(r.thresholds.divergence_min_predictions);
  w.Key("divergence_tolerance").Number(r.thresholds.divergence_tolerance);
  w.Key("divergence_max_disagreement").Number(r.thresholds.divergence_max_disagreement);
  w.Key("divergence_output").Int(r.thresholds.divergence_output);
  w.EndObject();
  w.Key("reason").String(r.reason);
  w.EndObject();
}

void WriteEndpoint(util::JsonWriter& w, const core::Endpoint& e) {
  w.BeginObject();
  w.Key("name").String(e.name);
  w.Key("status").String(core::EndpointStatusName(e.status));
  w.Key("variants").BeginArray();
  for (const core::Variant& v : e.variants) {
    w.BeginObject();
    w.Key("name").String(v.name);
    w.Key("weight").Number(v.weight);
    w.Key("instances").Int(v.instances);
    w.Key("model");
    WriteModelSpec(w, v.model);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

void WriteDeployment(util::JsonWriter& w, const core::Deployment& d) {
  w.BeginObject();
  w.Key("id").String(d.id);
  w.Key("endpoint").String(d.endpoint);
  w.Key("production_variant").String(d.production_variant);
  w.Key("canary_variant").String(d.canary_variant);
  w.Key("state").String(core::StateName(d.state));
  w.Key("canary_weight").Number(d.canary_weight);
  w.Key("paused").Bool(d.paused);
  w.Key("phase").String(core::RolloutPhaseName(d.phase));
  w.Key("policy");
  WritePolicy(w, d.policy);
  w.Key("model");
  WriteModelSpec(w, d.canary_model);
  w.Key("instances").Int(d.canary_instances);
  w.Key("keep_previous").Bool(d.keep_previous);
  w.Key("created_at").String(core::FormatRfc3339(d.created_at));
  w.Key("updated_at").String(core::FormatRfc3339(d.updated_at));
  w.Key("version").Int(d.version);
  w.Key("progress").BeginObject();
  w.Key("weight_since").String(core::FormatRfc3339(d.progress.weight_since));
  w.Key("healthy_since").String(core::FormatRfc3339(d.progress.healthy_since));
  w.Key("last_check_at");
  WriteTimeOrNull(w, d.progress.last_check_at);
  w.Key("latency_breaches").Int(d.progress.latency_breaches);
  w.Key("error_breaches").Int(d.progress.error_breaches);
  w.Key("divergence_breaches").Int(d.progress.divergence_breaches);
  if (d.progress.analysis_breaches > 0) {
    w.Key("analysis_breaches").Int(d.progress.analysis_breaches);
  }
  w.Key("failed_checks").Int(d.progress.failed_checks);
  w.Key("checks").Int(d.progress.checks);
  w.EndObject();
  // Issue 15: present only while the deployment waits at a manual gate.
  // Or, with hooks, while a gate hook holds the step: "hook:confirm_step".
  if (d.progress.awaiting_approval) {
    w.Key("waiting_for").String("approval");
  } else if (!d.progress.waiting_hook.empty()) {
    w.Key("waiting_for").String("hook:" + d.progress.waiting_hook);
  }
  if (d.requested) {
    w.Key("requested").BeginObject();
    w.Key("action").String(core::UserActionName(d.requested->action));
    w.Key("actor").String(d.requested->actor);
    w.Key("at").String(core::FormatRfc3339(d.requested->at));
    w.EndObject();
  }
  w.EndObject();
}

namespace {

// What an event changed, and why: part of the API's event and of a notification.
void WriteEventChange(util::JsonWriter& w, const core::DeploymentEvent& e) {
  w.Key("from_state").String(core::StateName(e.from_state));
  w.Key("to_state").String(core::StateName(e.to_state));
  w.Key("weight_before").Number(e.weight_before);
  w.Key("weight_after").Number(e.weight_after);
  w.Key("reason").String(e.reason);
  w.Key("actor").String(e.actor);
}

}  // namespace

void WriteEvent(util::JsonWriter& w, const core::DeploymentEvent& e) {
  w.BeginObject();
  w.Key("seq").Int(e.seq);
  w.Key("deployment_id").String(e.deployment_id);
  w.Key("time").String(core::FormatRfc3339(e.time));
  w.Key("kind").String(core::EventKindName(e.kind));
  WriteEventChange(w, e);
  if (e.check) {
    w.Key("check");
    WriteHealthReport(w, *e.check);
  }
  if (e.hook) {
    w.Key("hook").BeginObject();
    w.Key("name").String(e.hook->hook);
    w.Key("url").String(e.hook->url);
    w.Key("status").Int(e.hook->status);
    w.Key("attempts").Int(e.hook->attempts);
    w.Key("elapsed_ms").Int(e.hook->elapsed_ms);
    w.Key("outcome").String(e.hook->outcome);
    w.EndObject();
  }
  w.EndObject();
}

void WriteNotificationFields(util::JsonWriter& w, const core::Deployment& d,
                             const core::DeploymentEvent& e) {
  w.Key("deployment_id").String(d.id);
  w.Key("seq").Int(e.seq);
  w.Key("kind").String(core::EventKindName(e.kind));
  w.Key("endpoint").String(d.endpoint);
  w.Key("production_variant").String(d.production_variant);
  w.Key("canary_variant").String(d.canary_variant);
  WriteEventChange(w, e);
  w.Key("check");
  if (e.check) {
    WriteHealthReport(w, *e.check);
  } else {
    w.Null();
  }
}

std::string NotificationJson(const core::Deployment& d, const core::DeploymentEvent& e) {
  util::JsonWriter w;
  w.BeginObject();
  WriteNotificationFields(w, d, e);
  w.Key("deployment");
  WriteDeployment(w, d);
  w.Key("event");
  WriteEvent(w, e);
  w.EndObject();
  return w.Release();
}

std::string DeploymentJson(const core::Deployment& d) {
  util::JsonWriter w;
  WriteDeployment(w, d);
  return w.Release();
}

std::string EventJson(const core::DeploymentEvent& e) {
  util::JsonWriter w;
  WriteEvent(w, e);
  return w.Release();
}

namespace {

// One entry of `steps`: a weight, or {weight, bake, gate}.
Result<core::PolicyStep> ParseStep(const json::value& v, const std::string& where) {
  core::PolicyStep step;
  if (v.is_number()) {
    step.weight = v.to_number<double>();
    return step;
  }
  if (!v.is_object()) {
    return core::ValidationError(where + ": expected a number or an object {weight, bake, gate}");
  }
  Fields f(v.get_object(), where);
  if (auto s = f.OnlyKeys(core::kStepKeys); !s) return std::unexpected(s.error());
  MLCANARY_TRY_ASSIGN(step.weight, f.Number("weight"));
  if (f.Has("bake")) MLCANARY_TRY_ASSIGN(step.bake, f.Duration("bake"));
  if (f.Has("gate")) {
    std::string gate;
    MLCANARY_TRY_ASSIGN(gate, f.String("gate"));
    if (gate != core::kGateManual) {
      return core::ValidationError(f.Path("gate") + ": unknown gate '" + gate +
                                   "': the only gate kind is manual");
    }
    step.manual_gate = true;
  }
  return step;
}

// One hook object {url, timeout, retries, metadata}; `where` names it
// ("policy.hooks.confirm_step", "policy.analysis[0]").
Result<core::HookSpec> ParseHookSpec(const json::value& v, const std::string& where) {
  auto f = Fields::Of(v, where);
  if (!f) return std::unexpected(f.error());
  if (auto s = f->OnlyKeys(core::kHookKeys); !s) return std::unexpected(s.error());
  core::HookSpec h;
  if (!f->Has("url")) return f->Missing("url");
  MLCANARY_TRY_ASSIGN(h.url, f->String("url"));
  if (f->Has("timeout")) MLCANARY_TRY_ASSIGN(h.timeout, f->Duration("timeout"));
  if (f->Has("retries")) {
    std::int64_t n = 0;
    MLCANARY_TRY_ASSIGN(n, f->Int("retries"));
    if (n < 0 || n > core::kMaxHookRetries) {
      return core::ValidationError(f->Path("retries") + ": " + std::to_string(n) +
                                   " must be between 0 and " +
                                   std::to_string(core::kMaxHookRetries));
    }
    h.retries = static_cast<int>(n);
  }
  if (const json::value* m = f->Get("metadata"); m != nullptr && !m->is_null()) {
    if (!m->is_object()) {
      return core::ValidationError(f->Path("metadata") + ": expected an object of strings");
    }
    for (const auto& kv : m->get_object()) {
      if (!kv.value().is_string()) {
        return core::ValidationError(f->Path("metadata") + "." + std::string(kv.key()) +
                                     ": expected a string");
      }
      h.metadata[std::string(kv.key())] = std::string(kv.value().get_string());
    }
  }
  return h;
}

// Reads the value of key field.name (present in `f`) into the policy's member.
// `f` is the policy's object, or its group's (shadow) for a field in one.
core::Status ReadPolicyField(const Fields& f, const core::PolicyField& field, core::Policy& p) {
  const std::string_view key = core::KeyOf(field);
  return core::VisitPolicyField(field, p, [&](auto& member) -> core::Status {
    using T = std::remove_cvref_t<decltype(member)>;
    if constexpr (std::is_same_v<T, std::vector<core::PolicyStep>>) {
      const json::value* list = f.Get(key);
      if (!list->is_array() || list->get_array().empty()) {
        return core::ValidationError(f.Path(key) + ": expected a non-empty array of weights");
      }
      std::vector<core::PolicyStep> values;
      for (std::size_t i = 0; i < list->get_array().size(); ++i) {
        auto step = ParseStep(list->get_array()[i], f.Path(key) + "[" + std::to_string(i) + "]");
        if (!step) return std::unexpected(step.error());
        values.push_back(*step);
      }
      member = std::move(values);
    } else if constexpr (std::is_same_v<T, core::PolicyHooks>) {
      auto hf = Fields::Of(*f.Get(key), f.Path(key));
      if (!hf) return std::unexpected(hf.error());
      if (auto s = hf->OnlyKeys(core::kHookPointNames); !s) {
        return core::ValidationError(s.error().message() +
                                     " (hooks are pre_rollout, confirm_step, pre_complete, "
                                     "post_rollout and on_rollback)");
      }
      core::PolicyHooks hooks;
      for (std::size_t h = 0; h < core::kNumHookPoints; ++h) {
        const json::value* spec = hf->Get(core::kHookPointNames[h]);
        if (spec == nullptr || spec->is_null()) continue;
        MLCANARY_TRY_ASSIGN(hooks.at[h], ParseHookSpec(*spec, hf->Path(core::kHookPointNames[h])));
      }
      member = std::move(hooks);
    } else if constexpr (std::is_same_v<T, std::vector<core::HookSpec>>) {
      const json::value* list = f.Get(key);
      if (!list->is_array()) {
        return core::ValidationError(f.Path(key) + ": expected an array of hooks {url, ...}");
      }
      std::vector<core::HookSpec> values;
      for (std::size_t i = 0; i < list->get_array().size(); ++i) {
        auto h = ParseHookSpec(list->get_array()[i], f.Path(key) + "[" + std::to_string(i) + "]");
        if (!h) return std::unexpected(h.error());
        values.push_back(std::move(*h));
      }
      member = std::move(values);
    } else if constexpr (std::is_same_v<T, double>) {
      MLCANARY_TRY_ASSIGN(member, f.Number(key));
    } else if constexpr (std::is_same_v<T, core::Duration>) {
      MLCANARY_TRY_ASSIGN(member, f.Duration(key));
    } else if constexpr (std::is_same_v<T, bool>) {
      MLCANARY_TRY_ASSIGN(member, f.Bool(key));
    } else if constexpr (std::is_enum_v<T>) {
      auto name = f.String(key);
      if (!name) return std::unexpected(name.error());
      auto index = core::ParseChoice(field, *name);
      if (!index) return core::ValidationError(f.Path(key) + ": " + core::ChoiceError(field));
      member = static_cast<T>(*index);
    } else {
      auto n = f.Int(key);
      if (!n) return std::unexpected(n.error());
      if (auto range = core::CheckReadRange(field, *n)) {
        return core::ValidationError(f.Path(key) + ": " + *range);
      }
      member = static_cast<T>(*n);
    }
    return core::Ok();
  });
}

}  // namespace

Result<core::Policy> ParsePolicy(const json::value& v, std::string_view where,
                                 const core::Policy& base, core::PolicyRules rules) {
  if (v.is_null()) return base;
  auto f = Fields::Of(v, where);
  if (!f) return std::unexpected(f.error());
  if (auto s = f->OnlyKeys(core::PolicyTopKeys()); !s) return std::unexpected(s.error());
  core::Policy p = base;
  // The group objects given (shadow), their keys checked.
  std::vector<std::pair<std::string_view, Fields>> groups;
  for (const core::PolicyField& field : core::PolicyFieldsInReadOrder()) {
    const std::string_view group = core::GroupOf(field);
    const Fields* in = &*f;
    if (!group.empty()) {
      auto it = std::find_if(groups.begin(), groups.end(),
                             [&](const auto& g) { return g.first == group; });
      if (it == groups.end()) {
        const json::value* g = f->Get(group);
        if (g == nullptr) continue;
        auto gf = Fields::Of(*g, f->Path(group));
        if (!gf) return std::unexpected(gf.error());
        if (auto s = gf->OnlyKeys(core::PolicyGroupKeys(group)); !s) {
          return std::unexpected(s.error());
        }
        groups.emplace_back(group, *gf);
        it = std::prev(groups.end());
      }
      in = &it->second;
    }
    if (!in->Has(core::KeyOf(field))) continue;
    if (auto s = ReadPolicyField(*in, field, p); !s) return std::unexpected(s.error());
  }
  for (const auto& [group, unused] : groups) {
    if (!core::PolicyGroupOn(group, p)) {
      const core::PolicyFieldError e = core::GroupOffError(group);
      return core::ValidationError(Join(where, e.Path()) + ": " + e.message);
    }
  }
  if (auto s = core::CheckPolicy(p, rules); !s) {
    return core::ValidationError(Join(where, s.error().Path()) + ": " + s.error().message);
  }
  return p;
}

Result<core::ModelSpec> ParseModelSpec(const json::value& v, std::string_view where) {
  auto f = Fields::Of(v, where);
  if (!f) return std::unexpected(f.error());
  if (auto s = f->OnlyKeys({"kind", "path", "url", "timeout", "name", "instance_type"}); !s)
    return std::unexpected(s.error());
  core::ModelSpec m;
  std::string kind = "xgboost";
  if (f->Has("kind")) MLCANARY_TRY_ASSIGN(kind, f->String("kind"));
  auto parsed_kind = core::ParseModelKind(kind);
  if (!parsed_kind) {
    return core::ValidationError(f->Path("kind") + ": '" + kind +
                                 "' is not xgboost, http or sagemaker");
  }
  m.kind = *parsed_kind;
  if (m.kind != core::ModelKind::kSagemaker) {
    for (const char* key : {"name", "instance_type"}) {
      if (f->Has(key)) return core::ValidationError(f->Path(key) + ": only for kind sagemaker");
    }
  }
  if (m.kind == core::ModelKind::kSagemaker) {
    // A SageMaker Model (CreateModel) name: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}.
    MLCANARY_TRY_ASSIGN(m.name, f->String("name"));
    if (!core::IsSageMakerName(m.name)) {
      return core::ValidationError(f->Path("name") + ": '" + m.name +
                                   "' is not a SageMaker name (letters, digits and inner "
                                   "hyphens, at most 63)");
    }
    if (f->Has("instance_type")) {
      MLCANARY_TRY_ASSIGN(m.instance_type, f->String("instance_type"));
      if (!m.instance_type.starts_with("ml.")) {
        return core::ValidationError(f->Path("instance_type") + ": '" + m.instance_type +
                                     "' is not an ml.* instance type");
      }
    }
    for (const char* key : {"path", "url", "timeout"}) {
      if (f->Has(key)) return core::ValidationError(f->Path(key) + ": not for kind sagemaker");
    }
  } else if (m.kind == core::ModelKind::kXgboost) {
    MLCANARY_TRY_ASSIGN(m.path, f->String("path"));
    if (m.path.empty()) return core::ValidationError(f->Path("path") + ": must not be empty");
    if (f->Has("url")) return core::ValidationError(f->Path("url") + ": only for kind http");
  } else {
    MLCANARY_TRY_ASSIGN(m.url, f->String("url"));
    if (!m.url.starts_with("http://")) {
      return core::ValidationError(f->Path("url") + ": must start with http://");
    }
    if (f->Has("timeout")) MLCANARY_TRY_ASSIGN(m.timeout, f->Duration("timeout"));
    if (m.timeout.count() <= 0) return core::ValidationError(f->Path("timeout") + ": must be > 0");
    if (f->Has("path")) return core::ValidationError(f->Path("path") + ": only for kind xgboost");
  }
  return m;
}

namespace {

Result<core::WindowMetrics> ParseWindowMetrics(const json::value& v, std::string_view where) {
  auto f = Fields::Of(v, where);
  if (!f) return std::unexpected(f.error());
  core::WindowMetrics m;
  MLCANARY_TRY_ASSIGN(m.invocations, f->Int("invocations"));
  MLCANARY_TRY_ASSIGN(m.errors_4xx, f->Int("errors_4xx"));
  MLCANARY_TRY_ASSIGN(m.errors_5xx, f->Int("errors_5xx"));
  MLCANARY_TRY_ASSIGN(m.p50_ms, f->Number("p50_ms"));
  MLCANARY_TRY_ASSIGN(m.p90_ms, f->Number("p90_ms"));
  MLCANARY_TRY_ASSIGN(m.p99_ms, f->Number("p99_ms"));
  MLCANARY_TRY_ASSIGN(m.overhead_ms, f->Number("overhead_ms"));
  if (f->Has("cpu_utilization"))
    MLCANARY_TRY_ASSIGN(m.cpu_utilization, f->Number("cpu_utilization"));
  if (f->Has("memory_utilization")) {
    MLCANARY_TRY_ASSIGN(m.memory_utilization, f->Number("memory_utilization"));
  }
  return m;
}

Result<core::DeploymentState> ParseStateField(const Fields& f, std::string_view key) {
  auto text = f.String(key);
  if (!text) return std::unexpected(text.error());
  auto state = core::ParseState(*text);
  if (!state) return core::ValidationError(f.Path(key) + ": unknown state '" + *text + "'");
  return *state;
}

}  // namespace

Result<core::HealthReport> ParseHealthReport(const json::value& v, std::string_view where) {
  auto f = Fields::Of(v, where);
  if (!f) return std::unexpected(f.error());
  core::HealthReport r;
  std::string verdict;
  MLCANARY_TRY_ASSIGN(verdict, f->String("verdict"));
  auto parsed = core::ParseVerdict(verdict);
  if (!parsed) return core::ValidationError(f->Path("verdict") + ": unknown verdict");
  r.verdict = *parsed;
  MLCANARY_TRY_ASSIGN(r.latency_breached, f->Bool("latency_breached"));
  MLCANARY_TRY_ASSIGN(r.error_breached, f->Bool("error_breached"));
  for (const char* key : {"canary", "production"}) {
    if (!f->Has(key)) return f->Missing(key);
  }
  MLCANARY_TRY_ASSIGN(r.canary, ParseWindowMetrics(*f->Get("canary"), f->Path("canary")));
  MLCANARY_TRY_ASSIGN(r.production,
                      ParseWindowMetrics(*f->Get("production"), f->Path("production")));
  r.canary_error_rate = r.canary.error_rate();
  r.production_error_rate = r.production.error_rate();
  if (const json::value* ratio = f->Get("latency_ratio"); ratio && !ratio->is_null()) {
    MLCANARY_TRY_ASSIGN(r.latency_ratio, f->Number("latency_ratio"));
  }
  MLCANARY_TRY_ASSIGN(r.error_rate_diff, f->Number("error_rate_diff"));
  // Absent in records written before issue 14.
  if (f->Has("divergence_breached")) {
    MLCANARY_TRY_ASSIGN(r.divergence_breached, f->Bool("divergence_breached"));
  }
  if (const json::value* lt = f->Get("latency_test"); lt && !lt->is_null()) {
    auto lf = Fields::Of(*lt, f->Path("latency_test"));
    if (!lf) return std::unexpected(lf.error());
    core::LatencyTest test;
    MLCANARY_TRY_ASSIGN(test.test.u, lf->Number("u"));
    MLCANARY_TRY_ASSIGN(test.test.z, lf->Number("z"));
    MLCANARY_TRY_ASSIGN(test.test.p, lf->Number("p"));
    MLCANARY_TRY_ASSIGN(test.effect, lf->Number("effect"));
    r.latency_test = test;
  }
  if (const json::value* psi = f->Get("psi"); psi && !psi->is_null()) {
    MLCANARY_TRY_ASSIGN(r.psi, f->Number("psi"));
  }
  if (const json::value* paired = f->Get("paired"); paired && !paired->is_null()) {
    auto pf = Fields::Of(*paired, f->Path("paired"));
    if (!pf) return std::unexpected(pf.error());
    core::PairedDivergence pd;
    MLCANARY_TRY_ASSIGN(pd.pairs, pf->Int("pairs"));
    MLCANARY_TRY_ASSIGN(pd.disagreement, pf->Number("disagreement"));
    MLCANARY_TRY_ASSIGN(pd.mean_abs_diff, pf->Number("mean_abs_diff"));
    r.paired = pd;
  }
  if (f->Has("analysis_breached")) {
    MLCANARY_TRY_ASSIGN(r.analysis_breached, f->Bool("analysis_breached"));
  }
  if (const json::value* list = f->Get("analysis"); list && !list->is_null()) {
    if (!list->is_array())
      return core::ValidationError(f->Path("analysis") + ": expected an array");
    for (std::size_t i = 0; i < list->get_array().size(); ++i) {
      auto af =
          Fields::Of(list->get_array()[i], f->Path("analysis") + "[" + std::to_string(i) + "]");
      if (!af) return std::unexpected(af.error());
      core::AnalysisResult a;
      MLCANARY_TRY_ASSIGN(a.url, af->String("url"));
      std::string verdict_name;
      MLCANARY_TRY_ASSIGN(verdict_name, af->String("verdict"));
      auto vote = core::ParseAnalysisVerdict(verdict_name);
      if (!vote) return core::ValidationError(af->Path("verdict") + ": unknown verdict");
      a.verdict = *vote;
      MLCANARY_TRY_ASSIGN(a.reason, af->String("reason"));
      std::int64_t status = 0;
      MLCANARY_TRY_ASSIGN(status, af->Int("status"));
      a.status = static_cast<int>(status);
      r.analysis.push_back(std::move(a));
    }
  }
  const json::value* t = f->Get("thresholds");
  if (t == nullptr) return f->Missing("thresholds");
  auto tf = Fields::Of(*t, f->Path("thresholds"));
  if (!tf) return std::unexpected(tf.error());
  MLCANARY_TRY_ASSIGN(r.thresholds.max_p99_ms, tf->Number("max_p99_ms"));
  MLCANARY_TRY_ASSIGN(r.thresholds.max_error_rate, tf->Number("max_error_rate"));
  MLCANARY_TRY_ASSIGN(r.thresholds.max_latency_ratio, tf->Number("max_latency_ratio"));
  MLCANARY_TRY_ASSIGN(r.thresholds.max_error_rate_diff, tf->Number("max_error_rate_diff"));
  MLCANARY_TRY_ASSIGN(r.thresholds.min_invocations, tf->Int("min_invocations"));
  // Absent in records written before the key existed: the ratio applied always.
  if (tf->Has("latency_ratio_min_p99_ms")) {
    MLCANARY_TRY_ASSIGN(r.thresholds.latency_ratio_min_p99_ms,
                        tf->Number("latency_ratio_min_p99_ms"));
  }
  if (tf->Has("latency_judge")) {
    std::string judge;
    MLCANARY_TRY_ASSIGN(judge, tf->String("latency_judge"));
    bool known = false;
    for (std::size_t i = 0; i < std::size(core::kLatencyJudgeNames); ++i) {
      if (core::kLatencyJudgeNames[i] == judge) {
        r.thresholds.latency_judge = static_cast<core::LatencyJudge>(i);
        known = true;
      }
    }
    if (!known) {
      return core::ValidationError(tf->Path("latency_judge") + ": unknown judge '" + judge + "'");
    }
  }
  if (tf->Has("latency_alpha")) {
    MLCANARY_TRY_ASSIGN(r.thresholds.latency_alpha, tf->Number("latency_alpha"));
  }
  if (tf->Has("latency_min_effect")) {
    MLCANARY_TRY_ASSIGN(r.thresholds.latency_min_effect, tf->Number("latency_min_effect"));
  }
  if (tf->Has("divergence_psi_max")) {
    MLCANARY_TRY_ASSIGN(r.thresholds.divergence_psi_max, tf->Number("divergence_psi_max"));
  }
  if (tf->Has("divergence_min_predictions")) {
    MLCANARY_TRY_ASSIGN(r.thresholds.divergence_min_predictions,
                        tf->Int("divergence_min_predictions"));
  }
  // The paired check's thresholds: absent in records written before it.
  if (tf->Has("divergence_tolerance")) {
    MLCANARY_TRY_ASSIGN(r.thresholds.divergence_tolerance, tf->Number("divergence_tolerance"));
  }
  if (tf->Has("divergence_max_disagreement")) {
    MLCANARY_TRY_ASSIGN(r.thresholds.divergence_max_disagreement,
                        tf->Number("divergence_max_disagreement"));
  }
  if (tf->Has("divergence_output")) {
    MLCANARY_TRY_ASSIGN(r.thresholds.divergence_output, tf->Int("divergence_output"));
  }
  MLCANARY_TRY_ASSIGN(r.reason, f->String("reason"));
  return r;
}

Result<core::Endpoint> ParseEndpoint(const json::value& v, std::string_view where) {
  auto f = Fields::Of(v, where);
  if (!f) return std::unexpected(f.error());
  core::Endpoint e;
  MLCANARY_TRY_ASSIGN(e.name, f->String("name"));
  std::string status = "InService";
  if (f->Has("status")) MLCANARY_TRY_ASSIGN(status, f->String("status"));
  if (status == "Updating") e.status = core::EndpointStatus::kUpdating;
  if (status == "Failed") e.status = core::EndpointStatus::kFailed;
  const json::value* variants = f->Get("variants");
  if (variants == nullptr || !variants->is_array()) {
    return core::ValidationError(f->Path("variants") + ": expected an array");
  }
  for (std::size_t i = 0; i < variants->get_array().size(); ++i) {
    const std::string at = f->Path("variants") + "[" + std::to_string(i) + "]";
    auto vf = Fields::Of(variants->get_array()[i], at);
    if (!vf) return std::unexpected(vf.error());
    core::Variant var;
    MLCANARY_TRY_ASSIGN(var.name, vf->String("name"));
    MLCANARY_TRY_ASSIGN(var.weight, vf->Number("weight"));
    std::int64_t instances = 1;
    if (vf->Has("instances")) MLCANARY_TRY_ASSIGN(instances, vf->Int("instances"));
    var.instances = static_cast<int>(instances);
    const json::value* model = vf->Get("model");
    if (model == nullptr) return vf->Missing("model");
    MLCANARY_TRY_ASSIGN(var.model, ParseModelSpec(*model, vf->Path("model")));
    e.variants.push_back(std::move(var));
  }
  return e;
}

Result<core::Deployment> ParseDeployment(const json::value& v, std::string_view where) {
  auto f = Fields::Of(v, where);
  if (!f) return std::unexpected(f.error());
  core::Deployment d;
  MLCANARY_TRY_ASSIGN(d.id, f->String("id"));
  MLCANARY_TRY_ASSIGN(d.endpoint, f->String("endpoint"));
  MLCANARY_TRY_ASSIGN(d.production_variant, f->String("production_variant"));
  MLCANARY_TRY_ASSIGN(d.canary_variant, f->String("canary_variant"));
  MLCANARY_TRY_ASSIGN(d.state, ParseStateField(*f, "state"));
  MLCANARY_TRY_ASSIGN(d.canary_weight, f->Number("canary_weight"));
  MLCANARY_TRY_ASSIGN(d.paused, f->Bool("paused"));
  const json::value* policy = f->Get("policy");
  if (policy == nullptr) return f->Missing("policy");
  // Written by this version or an older one: read with the rules of either.
  MLCANARY_TRY_ASSIGN(d.policy,
                      ParsePolicy(*policy, f->Path("policy"), {}, core::PolicyRules::kStored));
  if (const json::value* model = f->Get("model")) {
    MLCANARY_TRY_ASSIGN(d.canary_model, ParseModelSpec(*model, f->Path("model")));
  }
  if (f->Has("instances")) {
    std::int64_t n = 1;
    MLCANARY_TRY_ASSIGN(n, f->Int("instances"));
    d.canary_instances = static_cast<int>(n);
  }
  if (f->Has("keep_previous")) MLCANARY_TRY_ASSIGN(d.keep_previous, f->Bool("keep_previous"));
  if (f->Has("phase")) {  // absent in records written before the shadow phase: split
    std::string phase;
    MLCANARY_TRY_ASSIGN(phase, f->String("phase"));
    auto parsed = core::ParseRolloutPhase(phase);
    if (!parsed) {
      return core::ValidationError(f->Path("phase") + ": '" + phase + "' is not split or shadow");
    }
    d.phase = *parsed;
  }
  MLCANARY_TRY_ASSIGN(d.created_at, f->Time("created_at"));
  MLCANARY_TRY_ASSIGN(d.updated_at, f->Time("updated_at"));
  if (f->Has("version")) MLCANARY_TRY_ASSIGN(d.version, f->Int("version"));
  if (const json::value* progress = f->Get("progress")) {
    auto pf = Fields::Of(*progress, f->Path("progress"));
    if (!pf) return std::unexpected(pf.error());
    MLCANARY_TRY_ASSIGN(d.progress.weight_since, pf->Time("weight_since"));
    MLCANARY_TRY_ASSIGN(d.progress.healthy_since, pf->Time("healthy_since"));
    if (const json::value* last = pf->Get("last_check_at"); last && !last->is_null()) {
      MLCANARY_TRY_ASSIGN(d.progress.last_check_at, pf->Time("last_check_at"));
    }
    std::int64_t n = 0;
    MLCANARY_TRY_ASSIGN(n, pf->Int("latency_breaches"));
    d.progress.latency_breaches = static_cast<int>(n);
    MLCANARY_TRY_ASSIGN(n, pf->Int("error_breaches"));
    d.progress.error_breaches = static_cast<int>(n);
    if (pf->Has("divergence_breaches")) {
      MLCANARY_TRY_ASSIGN(n, pf->Int("divergence_breaches"));
      d.progress.divergence_breaches = static_cast<int>(n);
    }
    if (pf->Has("analysis_breaches")) {
      MLCANARY_TRY_ASSIGN(n, pf->Int("analysis_breaches"));
      d.progress.analysis_breaches = static_cast<int>(n);
    }
    MLCANARY_TRY_ASSIGN(n, pf->Int("failed_checks"));
    d.progress.failed_checks = static_cast<int>(n);
    MLCANARY_TRY_ASSIGN(d.progress.checks, pf->Int("checks"));
  }
  if (f->Has("waiting_for")) {
    std::string waiting;
    MLCANARY_TRY_ASSIGN(waiting, f->String("waiting_for"));
    if (waiting.starts_with("hook:") && waiting.size() > 5) {
      d.progress.waiting_hook = waiting.substr(5);
    } else if (waiting != "approval") {
      return core::ValidationError(f->Path("waiting_for") + ": unknown '" + waiting +
                                   "' (approval or hook:NAME)");
    } else {
      d.progress.awaiting_approval = true;
    }
  }
  if (const json::value* requested = f->Get("requested"); requested && !requested->is_null()) {
    auto rf = Fields::Of(*requested, f->Path("requested"));
    if (!rf) return std::unexpected(rf.error());
    core::ActionRequest r;
    std::string action;
    MLCANARY_TRY_ASSIGN(action, rf->String("action"));
    auto parsed = core::ParseUserAction(action);
    if (!parsed) {
      return core::ValidationError(rf->Path("action") + ": unknown action '" + action +
                                   "' (complete, cancel, rollback, pause, resume or approve)");
    }
    r.action = *parsed;
    MLCANARY_TRY_ASSIGN(r.actor, rf->String("actor"));
    MLCANARY_TRY_ASSIGN(r.at, rf->Time("at"));
    d.requested = std::move(r);
  }
  return d;
}

Result<core::DeploymentEvent> ParseEvent(const json::value& v, std::string_view where) {
  auto f = Fields::Of(v, where);
  if (!f) return std::unexpected(f.error());
  core::DeploymentEvent e;
  MLCANARY_TRY_ASSIGN(e.seq, f->Int("seq"));
  MLCANARY_TRY_ASSIGN(e.deployment_id, f->String("deployment_id"));
  MLCANARY_TRY_ASSIGN(e.time, f->Time("time"));
  std::string kind;
  MLCANARY_TRY_ASSIGN(kind, f->String("kind"));
  auto parsed_kind = core::ParseEventKind(kind);
  if (!parsed_kind) return core::ValidationError(f->Path("kind") + ": unknown event kind");
  e.kind = *parsed_kind;
  MLCANARY_TRY_ASSIGN(e.from_state, ParseStateField(*f, "from_state"));
  MLCANARY_TRY_ASSIGN(e.to_state, ParseStateField(*f, "to_state"));
  MLCANARY_TRY_ASSIGN(e.weight_before, f->Number("weight_before"));
  MLCANARY_TRY_ASSIGN(e.weight_after, f->Number("weight_after"));
  MLCANARY_TRY_ASSIGN(e.reason, f->String("reason"));
  MLCANARY_TRY_ASSIGN(e.actor, f->String("actor"));
  if (const json::value* check = f->Get("check")) {
    MLCANARY_TRY_ASSIGN(e.check, ParseHealthReport(*check, f->Path("check")));
  }
  if (const json::value* hook = f->Get("hook"); hook && !hook->is_null()) {
    auto hf = Fields::Of(*hook, f->Path("hook"));
    if (!hf) return std::unexpected(hf.error());
    core::HookCall call;
    MLCANARY_TRY_ASSIGN(call.hook, hf->String("name"));
    MLCANARY_TRY_ASSIGN(call.url, hf->String("url"));
    std::int64_t n = 0;
    MLCANARY_TRY_ASSIGN(n, hf->Int("status"));
    call.status = static_cast<int>(n);
    MLCANARY_TRY_ASSIGN(n, hf->Int("attempts"));
    call.attempts = static_cast<int>(n);
    MLCANARY_TRY_ASSIGN(call.elapsed_ms, hf->Int("elapsed_ms"));
    MLCANARY_TRY_ASSIGN(call.outcome, hf->String("outcome"));
    e.hook = std::move(call);
  }
  return e;
}

namespace {

// The array at `key` of an object, each element read by `parse` ("where.key[i]").
template <typename T, typename Parse>
Result<std::vector<T>> ParseListAt(const json::value& v, std::string_view where,
                                   std::string_view key, Parse parse) {
  auto f = Fields::Of(v, where);
  if (!f) return std::unexpected(f.error());
  const json::value* list = f->Get(key);
  if (list == nullptr) return f->Missing(key);
  if (!list->is_array()) return core::ValidationError(f->Path(key) + ": expected an array");
  std::vector<T> out;
  out.reserve(list->get_array().size());
  for (std::size_t i = 0; i < list->get_array().size(); ++i) {
    auto item = parse(list->get_array()[i], f->Path(key) + "[" + std::to_string(i) + "]");
    if (!item) return std::unexpected(item.error());
    out.push_back(std::move(*item));
  }
  return out;
}

}  // namespace

Result<std::vector<core::Deployment>> ParseDeploymentList(const json::value& v,
                                                          std::string_view where) {
  return ParseListAt<core::Deployment>(v, where, "deployments", ParseDeployment);
}

Result<std::vector<core::DeploymentEvent>> ParseEventList(const json::value& v,
                                                          std::string_view where) {
  return ParseListAt<core::DeploymentEvent>(v, where, "events", ParseEvent);
}

Result<json::value> ParseJson(std::string_view text, std::string_view where) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return core::ValidationError(std::string(where) + ": invalid JSON: " + ec.message());
  return v;
}

}  // namespace mlcanary::codec
