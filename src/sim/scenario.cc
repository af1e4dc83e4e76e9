// Scenario files.
#include "sim/scenario.h"

#include <fstream>
#include <sstream>

#include "config/policy_yaml.h"
#include "config/yaml_fields.h"

namespace mlcanary::sim {
namespace {

using config::YamlPath;

core::Result<Phase> ReadPhase(const YAML::Node& node, const YamlPath& at, bool needs_from) {
  if (auto s = config::CheckKeys(node, at,
                                 {"from_minute", "p99_ms", "error_rate", "p50_ms", "p90_ms",
                                  "prediction_mean", "prediction_sd", "paired_disagreement"});
      !s) {
    return std::unexpected(s.error());
  }
  Phase phase;
  if (node["from_minute"]) {
    auto v = config::ReadDouble(node["from_minute"], at.Child("from_minute"));
    if (!v) return std::unexpected(v.error());
    if (*v < 0) return at.Child("from_minute").Fail(node["from_minute"], "must be >= 0");
    phase.from_minute = *v;
  } else if (needs_from) {
    return at.Fail(node, "missing key from_minute");
  }
  for (const char* key : {"p99_ms", "error_rate"}) {
    if (!node[key]) return at.Fail(node, std::string("missing key ") + key);
  }
  auto p99 = config::ReadDouble(node["p99_ms"], at.Child("p99_ms"));
  if (!p99) return std::unexpected(p99.error());
  if (*p99 < 0) return at.Child("p99_ms").Fail(node["p99_ms"], "must be >= 0");
  phase.p99_ms = *p99;
  auto rate = config::ReadDouble(node["error_rate"], at.Child("error_rate"));
  if (!rate) return std::unexpected(rate.error());
  if (*rate < 0 || *rate > 1)
    return at.Child("error_rate").Fail(node["error_rate"], "must be in [0, 1]");
  phase.error_rate = *rate;
  for (auto [key, field] :
       {std::pair{"p50_ms", &phase.p50_ms}, std::pair{"p90_ms", &phase.p90_ms}}) {
    if (!node[key]) continue;
    auto v = config::ReadDouble(node[key], at.Child(key));
    if (!v) return std::unexpected(v.error());
    if (*v < 0) return at.Child(key).Fail(node[key], "must be >= 0");
    *field = *v;
  }
  if (node["prediction_mean"]) {
    auto v = config::ReadDouble(node["prediction_mean"], at.Child("prediction_mean"));
    if (!v) return std::unexpected(v.error());
    phase.prediction_mean = *v;
  }
  if (node["prediction_sd"]) {
    if (!node["prediction_mean"]) return at.Fail(node, "prediction_sd needs prediction_mean");
    auto v = config::ReadDouble(node["prediction_sd"], at.Child("prediction_sd"));
    if (!v) return std::unexpected(v.error());
    if (*v < 0) return at.Child("prediction_sd").Fail(node["prediction_sd"], "must be >= 0");
    phase.prediction_sd = *v;
  }
  if (node["paired_disagreement"]) {
    const auto key_at = at.Child("paired_disagreement");
    auto v = config::ReadDouble(node["paired_disagreement"], key_at);
    if (!v) return std::unexpected(v.error());
    if (*v < 0 || *v > 1) return key_at.Fail(node["paired_disagreement"], "must be in [0, 1]");
    phase.paired_disagreement = *v;
  }
  return phase;
}

// A variant's behaviour: one mapping (constant), or a list of phases.
core::Result<std::vector<Phase>> ReadPhases(const YAML::Node& node, const YamlPath& at) {
  std::vector<Phase> phases;
  if (node.IsMap()) {
    auto phase = ReadPhase(node, at, false);
    if (!phase) return std::unexpected(phase.error());
    if (phase->from_minute != 0) return at.Fail(node, "a single entry must start at minute 0");
    phases.push_back(*phase);
    return phases;
  }
  if (!node.IsSequence() || node.size() == 0) {
    return at.Fail(node,
                   "expected a mapping {p99_ms, error_rate} or a non-empty list of "
                   "{from_minute, p99_ms, error_rate}");
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    auto phase = ReadPhase(node[i], at.Index(i), true);
    if (!phase) return std::unexpected(phase.error());
    if (i == 0 && phase->from_minute != 0) {
      return at.Index(0)
          .Child("from_minute")
          .Fail(node[0]["from_minute"], "the first entry must start at minute 0");
    }
    if (i > 0 && phase->from_minute <= phases.back().from_minute) {
      return at.Index(i)
          .Child("from_minute")
          .Fail(node[i]["from_minute"], "entries must be in increasing from_minute order");
    }
    phases.push_back(*phase);
  }
  return phases;
}

}  // namespace

const Phase& PhaseAt(const std::vector<Phase>& phases, double minute) {
  const Phase* current = &phases.front();
  for (const Phase& p : phases) {
    if (p.from_minute <= minute + 1e-9) current = &p;
  }
  return *current;
}

core::Result<Scenario> ParseScenario(const std::string& yaml_text, const std::string& source) {
  auto root = config::LoadYamlString(yaml_text, source);
  if (!root) return std::unexpected(root.error());
  const YamlPath top(source, "");
  if (auto s = config::CheckKeys(*root, top,
                                 {"policy", "traffic_per_minute", "production", "canary",
                                  "duration_minutes", "approve_at_minute"});
      !s) {
    return std::unexpected(s.error());
  }
  for (const char* key : {"traffic_per_minute", "production", "canary", "duration_minutes"}) {
    if (!(*root)[key]) return top.Fail(*root, std::string("missing key ") + key);
  }
  Scenario sc;
  sc.source = source;
  auto policy =
      config::ReadPolicy((*root)["policy"], top.Child("policy"), config::BareNumber::kMinutes);
  if (!policy) return std::unexpected(policy.error());
  sc.policy = *policy;
  // Issue 15: a simulation calls nobody; a hook's answer is not the scenario's.
  for (const char* key : {"hooks", "analysis"}) {
    const YAML::Node policy_node = (*root)["policy"];
    if (policy_node.IsMap() && policy_node[key]) {
      return top.Child("policy").Child(key).Fail(
          policy_node[key], "the simulator cannot call hooks; leave " + std::string(key) +
                                " out of a scenario (their effect is tested with a real service)");
    }
  }

  auto traffic = config::ReadDouble((*root)["traffic_per_minute"], top.Child("traffic_per_minute"));
  if (!traffic) return std::unexpected(traffic.error());
  if (*traffic < 0 || *traffic > 1e12) {
    return top.Child("traffic_per_minute")
        .Fail((*root)["traffic_per_minute"], "must be in [0, 1e12]");
  }
  sc.traffic_per_minute = *traffic;

  auto duration = config::ReadDouble((*root)["duration_minutes"], top.Child("duration_minutes"));
  if (!duration) return std::unexpected(duration.error());
  if (*duration <= 0 || *duration > 1e6) {
    return top.Child("duration_minutes")
        .Fail((*root)["duration_minutes"], "must be in (0, 1000000]");
  }
  sc.duration_minutes = *duration;

  auto production = ReadPhases((*root)["production"], top.Child("production"));
  if (!production) return std::unexpected(production.error());
  sc.production = *production;
  auto canary = ReadPhases((*root)["canary"], top.Child("canary"));
  if (!canary) return std::unexpected(canary.error());
  sc.canary = *canary;

  if (const YAML::Node approve = (*root)["approve_at_minute"]) {
    const YamlPath at = top.Child("approve_at_minute");
    auto minute = config::ReadDouble(approve, at);
    if (!minute) return std::unexpected(minute.error());
    if (*minute < 0 || *minute > 1e6) return at.Fail(approve, "must be in [0, 1000000]");
    bool gated = false;
    for (const core::PolicyStep& step : sc.policy.steps) gated = gated || step.manual_gate;
    if (!gated) {
      return at.Fail(approve,
                     "the policy has no manual gate to approve (a steps entry with "
                     "gate: manual)");
    }
    sc.approve_at_minute = *minute;
  }
  return sc;
}

core::Result<Scenario> LoadScenarioFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return core::NotFoundError(path + ": cannot read scenario file");
  std::stringstream text;
  text << in.rdbuf();
  return ParseScenario(text.str(), path);
}

}  // namespace mlcanary::sim
