// Policy from YAML: the keys and their types are core::PolicyFields().
#include "config/policy_yaml.h"

#include <type_traits>
#include <utility>
#include <vector>

#include "core/policy_fields.h"

namespace mlcanary::config {
namespace {

// One entry of `steps`: a weight, or {weight, bake, gate}.
core::Result<core::PolicyStep> ReadStep(const YAML::Node& node, const YamlPath& at,
                                        BareNumber bare) {
  core::PolicyStep step;
  if (!node.IsMap()) {
    auto w = ReadDouble(node, at);
    if (!w) return std::unexpected(w.error());
    step.weight = *w;
    return step;
  }
  if (auto s = CheckKeys(node, at, core::kStepKeys); !s) return std::unexpected(s.error());
  if (!node["weight"]) return at.Fail(node, "a step object needs a weight, e.g. {weight: 0.5}");
  auto w = ReadDouble(node["weight"], at.Child("weight"));
  if (!w) return std::unexpected(w.error());
  step.weight = *w;
  if (node["bake"]) {
    auto bake = ReadDuration(node["bake"], at.Child("bake"), bare);
    if (!bake) return std::unexpected(bake.error());
    step.bake = *bake;
  }
  if (node["gate"]) {
    auto gate = ReadString(node["gate"], at.Child("gate"));
    if (!gate) return std::unexpected(gate.error());
    if (*gate != core::kGateManual) {
      return at.Child("gate").Fail(node["gate"],
                                   "unknown gate '" + *gate + "': the only gate kind is manual");
    }
    step.manual_gate = true;
  }
  return step;
}

// One hook: {url, timeout, retries, metadata}.
core::Result<core::HookSpec> ReadHook(const YAML::Node& node, const YamlPath& at, BareNumber bare) {
  if (auto s = CheckMap(node, at); !s) return std::unexpected(s.error());
  if (auto s = CheckKeys(node, at, core::kHookKeys); !s) return std::unexpected(s.error());
  if (!node["url"]) return at.Child("url").Fail(node, "missing: a hook needs a url");
  core::HookSpec hook;
  auto url = ReadString(node["url"], at.Child("url"));
  if (!url) return std::unexpected(url.error());
  hook.url = *url;
  if (node["timeout"]) {
    auto timeout = ReadDuration(node["timeout"], at.Child("timeout"), bare);
    if (!timeout) return std::unexpected(timeout.error());
    hook.timeout = *timeout;
  }
  if (node["retries"]) {
    auto retries = ReadInt(node["retries"], at.Child("retries"));
    if (!retries) return std::unexpected(retries.error());
    if (*retries < 0 || *retries > core::kMaxHookRetries) {
      return at.Child("retries").Fail(node["retries"], std::to_string(*retries) +
                                                           " must be between 0 and " +
                                                           std::to_string(core::kMaxHookRetries));
    }
    hook.retries = static_cast<int>(*retries);
  }
  if (const YAML::Node metadata = node["metadata"]; metadata && !metadata.IsNull()) {
    if (!metadata.IsMap()) {
      return at.Child("metadata").Fail(metadata, "expected a mapping of strings");
    }
    for (const auto& kv : metadata) {
      const std::string key = kv.first.as<std::string>();
      auto value = ReadString(kv.second, at.Child("metadata").Child(key));
      if (!value) return std::unexpected(value.error());
      hook.metadata[key] = *value;
    }
  }
  return hook;
}

// Reads `value` (the node of key field.name) into the policy's member.
core::Status ReadField(const core::PolicyField& field, const YAML::Node& value, const YamlPath& at,
                       BareNumber bare, core::Policy& p) {
  return core::VisitPolicyField(field, p, [&](auto& member) -> core::Status {
    using T = std::remove_cvref_t<decltype(member)>;
    if constexpr (std::is_same_v<T, std::vector<core::PolicyStep>>) {
      if (!value.IsSequence() || value.size() == 0) {
        return at.Fail(value, "expected a non-empty list of weights, e.g. [0.05, 0.25, 1.0]");
      }
      std::vector<core::PolicyStep> list;
      for (std::size_t i = 0; i < value.size(); ++i) {
        auto v = ReadStep(value[i], at.Index(i), bare);
        if (!v) return std::unexpected(v.error());
        list.push_back(*v);
      }
      member = std::move(list);
    } else if constexpr (std::is_same_v<T, core::PolicyHooks>) {
      if (auto s = CheckMap(value, at); !s) return s;
      for (const auto& kv : value) {
        const std::string name = kv.first.as<std::string>();
        bool known = false;
        for (const std::string_view point : core::kHookPointNames) known = known || point == name;
        if (!known) {
          return at.Child(name).Fail(kv.first,
                                     "unknown hook '" + name +
                                         "' (hooks are pre_rollout, confirm_step, pre_complete, "
                                         "post_rollout and on_rollback)");
        }
      }
      core::PolicyHooks hooks;
      for (std::size_t h = 0; h < core::kNumHookPoints; ++h) {
        const std::string name(core::kHookPointNames[h]);
        if (!value[name] || value[name].IsNull()) continue;
        auto hook = ReadHook(value[name], at.Child(name), bare);
        if (!hook) return std::unexpected(hook.error());
        hooks.at[h] = std::move(*hook);
      }
      member = std::move(hooks);
    } else if constexpr (std::is_same_v<T, std::vector<core::HookSpec>>) {
      if (!value.IsSequence()) {
        return at.Fail(value, "expected a list of hooks, e.g. [{url: http://eval/check}]");
      }
      std::vector<core::HookSpec> list;
      for (std::size_t i = 0; i < value.size(); ++i) {
        auto hook = ReadHook(value[i], at.Index(i), bare);
        if (!hook) return std::unexpected(hook.error());
        list.push_back(std::move(*hook));
      }
      member = std::move(list);
    } else if constexpr (std::is_same_v<T, double>) {
      auto v = ReadDouble(value, at);
      if (!v) return std::unexpected(v.error());
      member = *v;
    } else if constexpr (std::is_same_v<T, core::Duration>) {
      auto v = ReadDuration(value, at, bare);
      if (!v) return std::unexpected(v.error());
      member = *v;
    } else if constexpr (std::is_same_v<T, bool>) {
      auto v = ReadBool(value, at);
      if (!v) return std::unexpected(v.error());
      member = *v;
    } else if constexpr (std::is_enum_v<T>) {
      auto v = ReadString(value, at);
      if (!v) return std::unexpected(v.error());
      auto index = core::ParseChoice(field, *v);
      if (!index) return at.Fail(value, core::ChoiceError(field));
      member = static_cast<T>(*index);
    } else {
      auto v = ReadInt(value, at);
      if (!v) return std::unexpected(v.error());
      if (auto range = core::CheckReadRange(field, *v)) return at.Fail(value, *range);
      member = static_cast<T>(*v);
    }
    return core::Ok();
  });
}

const core::PolicyField* FindField(std::string_view name) {
  for (const core::PolicyField& field : core::PolicyFields()) {
    if (field.name == name) return &field;
  }
  return nullptr;
}

// The path of a field: "policy.shadow.sample" for a field of a group.
YamlPath FieldAt(const YAML::Node& /*node*/, const YamlPath& at, std::string_view name) {
  const core::PolicyField* field = FindField(name);
  if (field == nullptr) return at.Child(name);
  const std::string_view group = core::GroupOf(*field);
  return group.empty() ? at.Child(name) : at.Child(group).Child(core::KeyOf(*field));
}

// The node of a field (undefined when absent) and its path.
std::pair<YAML::Node, YamlPath> FieldNode(const YAML::Node& node, const YamlPath& at,
                                          const core::PolicyField& field) {
  const std::string_view group = core::GroupOf(field);
  YamlPath field_at = FieldAt(node, at, field.name);
  if (group.empty()) return {node[std::string(field.name)], field_at};
  const YAML::Node g = node[std::string(group)];
  if (!g || !g.IsMap()) return {YAML::Node(YAML::NodeType::Undefined), field_at};
  return {g[std::string(core::KeyOf(field))], field_at};
}

}  // namespace

core::Result<core::Policy> ReadPolicy(const YAML::Node& node, const YamlPath& at, BareNumber bare,
                                      const core::Policy& base) {
  core::Policy p = base;
  if (!node.IsDefined() || node.IsNull()) return p;
  if (auto s = CheckKeys(node, at, core::PolicyTopKeys()); !s) return std::unexpected(s.error());
  for (const std::string_view group : core::PolicyTopKeys()) {
    const std::string key(group);
    if (core::PolicyGroupKeys(group).empty() || !node[key]) continue;
    if (auto s = CheckMap(node[key], at.Child(key)); !s) return std::unexpected(s.error());
    if (auto s = CheckKeys(node[key], at.Child(key), core::PolicyGroupKeys(group)); !s) {
      return std::unexpected(s.error());
    }
  }
  for (const core::PolicyField& field : core::PolicyFieldsInReadOrder()) {
    const auto [value, field_at] = FieldNode(node, at, field);
    if (!value) continue;
    if (auto s = ReadField(field, value, field_at, bare, p); !s) return std::unexpected(s.error());
  }
  for (const std::string_view group : core::PolicyTopKeys()) {
    if (core::PolicyGroupKeys(group).empty() || !node[std::string(group)]) continue;
    if (!core::PolicyGroupOn(group, p)) {
      const core::PolicyFieldError e = core::GroupOffError(group);
      return FieldAt(node, at, e.field).Fail(node[std::string(group)], e.message);
    }
  }
  if (auto s = core::CheckPolicy(p); !s) {
    // Anchored at the key's node (the node itself when the key is absent: a base policy's).
    const core::PolicyFieldError& e = s.error();
    YamlPath field_at = FieldAt(node, at, e.field);
    // yaml-cpp nodes are references: reset() rebinds, `=` would write the document.
    YAML::Node field_node;
    field_node.reset(node);
    if (const core::PolicyField* field = FindField(e.field); field != nullptr) {
      const auto [value, unused] = FieldNode(node, at, *field);
      if (value) field_node.reset(value);
    }
    if (e.index) {
      field_at = field_at.Index(*e.index);
      const YAML::Node& list = field_node;
      if (list.IsSequence() && *e.index < list.size()) field_node.reset(list[*e.index]);
    }
    if (!e.key.empty()) {
      const std::string sub(e.key);
      field_at = field_at.Child(sub);
      const YAML::Node& entry = field_node;
      if (entry.IsMap() && entry[sub]) field_node.reset(entry[sub]);
    }
    if (!e.subkey.empty()) {
      const std::string sub(e.subkey);
      field_at = field_at.Child(sub);
      const YAML::Node& entry = field_node;
      if (entry.IsMap() && entry[sub]) field_node.reset(entry[sub]);
    }
    return field_at.Fail(field_node, e.message);
  }
  return p;
}

}  // namespace mlcanary::config
