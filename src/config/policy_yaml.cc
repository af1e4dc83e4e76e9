// Policy from YAML.
#include "config/policy_yaml.h"

namespace mlcanary::config {

core::Result<core::Policy> ReadPolicy(const YAML::Node& node, const YamlPath& at, BareNumber bare,
                                      const core::Policy& base) {
  core::Policy p = base;
  if (!node.IsDefined() || node.IsNull()) return p;
  if (auto s =
          CheckKeys(node, at,
                    {"initial_weight", "step", "steps", "bake", "interval", "final_bake",
                     "max_p99_ms", "max_error_rate", "max_latency_ratio", "max_error_rate_diff",
                     "latency_ratio_min_p99_ms", "latency_breaches_to_rollback",
                     "error_breaches_to_rollback", "min_invocations", "auto_rollback"});
      !s) {
    return std::unexpected(s.error());
  }

#define MLCANARY_READ(key, reader, ...)                                     \
  if (node[#key]) {                                                         \
    auto v = reader(node[#key], at.Child(#key) __VA_OPT__(, ) __VA_ARGS__); \
    if (!v) return std::unexpected(v.error());                              \
    p.key = *v;                                                             \
  }
  MLCANARY_READ(initial_weight, ReadDouble)
  MLCANARY_READ(step, ReadDouble)
  MLCANARY_READ(bake, ReadDuration, bare)
  MLCANARY_READ(interval, ReadDuration, bare)
  MLCANARY_READ(final_bake, ReadDuration, bare)
  MLCANARY_READ(max_p99_ms, ReadDouble)
  MLCANARY_READ(max_error_rate, ReadDouble)
  MLCANARY_READ(max_latency_ratio, ReadDouble)
  MLCANARY_READ(max_error_rate_diff, ReadDouble)
  MLCANARY_READ(latency_ratio_min_p99_ms, ReadDouble)
  MLCANARY_READ(min_invocations, ReadInt)
  MLCANARY_READ(auto_rollback, ReadBool)
#undef MLCANARY_READ
  for (auto [key, field] :
       {std::pair{"latency_breaches_to_rollback", &p.latency_breaches_to_rollback},
        std::pair{"error_breaches_to_rollback", &p.error_breaches_to_rollback}}) {
    if (!node[key]) continue;
    auto v = ReadInt(node[key], at.Child(key));
    if (!v) return std::unexpected(v.error());
    if (*v < 1 || *v > 1'000'000)
      return at.Child(key).Fail(node[key], "must be between 1 and 1000000");
    *field = static_cast<int>(*v);
  }
  if (const YAML::Node steps = node["steps"]) {
    const YamlPath steps_at = at.Child("steps");
    if (!steps.IsSequence() || steps.size() == 0) {
      return steps_at.Fail(steps, "expected a non-empty list of weights, e.g. [0.05, 0.25, 1.0]");
    }
    p.steps.clear();
    for (std::size_t i = 0; i < steps.size(); ++i) {
      auto v = ReadDouble(steps[i], steps_at.Index(i));
      if (!v) return std::unexpected(v.error());
      p.steps.push_back(*v);
    }
  }
  if (auto s = core::ValidatePolicy(p); !s) {
    // ValidatePolicy names "policy.<field>"; anchor it at this node's file and path.
    std::string message = s.error().message();
    const std::string prefix = "policy.";
    if (message.starts_with(prefix)) message.erase(0, prefix.size());
    const auto colon = message.find(':');
    const std::string field = message.substr(0, colon);
    const std::string key = field.substr(0, field.find('['));
    const YAML::Node where = node[key] ? node[key] : node;
    YamlPath field_at = at.Child(field);
    return field_at.Fail(where, colon == std::string::npos ? message : message.substr(colon + 2));
  }
  return p;
}

}  // namespace mlcanary::config
