// Reads a Policy (API.md "Policy") from YAML: every key optional, unknown keys
// and wrong types refused with the key path, then ValidatePolicy.
#ifndef MLCANARY_CONFIG_POLICY_YAML_H_
#define MLCANARY_CONFIG_POLICY_YAML_H_

#include <yaml-cpp/yaml.h>

#include "config/yaml_fields.h"
#include "core/policy.h"

namespace mlcanary::config {

// Starts from `base` (the defaults, or an endpoint's policy) and applies the
// keys present in `node` (a mapping, or null/absent for no overrides).
core::Result<core::Policy> ReadPolicy(const YAML::Node& node, const YamlPath& at,
                                      BareNumber bare_durations,
                                      const core::Policy& base = core::Policy{});

}  // namespace mlcanary::config

#endif  // MLCANARY_CONFIG_POLICY_YAML_H_
