// The table of Policy fields (API.md "Policy").
#include "core/policy_fields.h"

#include <array>
#include <type_traits>
#include <utility>

namespace mlcanary::core {
namespace {

// The doc lines are the OpenAPI descriptions; a field without one has "".
constexpr std::array kFields = {
    PolicyField{.name = "initial_weight",
                .member = &Policy::initial_weight,
                .unit = "fraction of traffic",
                .rule = PolicyRule::kWeight,
                .doc = "first canary weight (0.10); in [0.000001, 1]"},
    PolicyField{.name = "step",
                .member = &Policy::step,
                .unit = "fraction of traffic",
                .rule = PolicyRule::kWeight,
                .doc = "weight added per step (0.10); in [0.000001, 1]"},
    PolicyField{.name = "steps",
                .member = &Policy::steps,
                .unit = "fraction of traffic",
                .rule = PolicyRule::kWeightSchedule,
                .doc = "explicit schedule, strictly increasing at the 0.000001 weight resolution; "
                       "replaces initial_weight and step. An entry is a weight or an object "
                       "{weight, bake, gate}: its own bake (else bake; at 1.0 final_bake) and "
                       "gate: manual (after this weight's bake the deployment waits for POST "
                       "/v1/deployments/{id}/approve; not on the first step)"},
    PolicyField{.name = "bake",
                .member = &Policy::bake,
                .unit = "time",
                .rule = PolicyRule::kNonNegative,
                .doc = "healthy time at a weight before the next step (10m)"},
    PolicyField{.name = "interval",
                .member = &Policy::interval,
                .unit = "time",
                .rule = PolicyRule::kPositive,
                .doc = "one check per interval (1m)"},
    PolicyField{.name = "final_bake",
                .member = &Policy::final_bake,
                .unit = "time",
                .rule = PolicyRule::kNonNegative,
                .doc = "healthy time at 1.0 before COMPLETED (0s)"},
    PolicyField{.name = "max_p99_ms",
                .member = &Policy::max_p99_ms,
                .unit = "ms (canary p99)",
                .rule = PolicyRule::kPositive},
    PolicyField{.name = "max_error_rate",
                .member = &Policy::max_error_rate,
                .unit = "(4XX + 5XX) / invocations",
                .rule = PolicyRule::kPositive},
    PolicyField{.name = "max_latency_ratio",
                .member = &Policy::max_latency_ratio,
                .unit = "canary p99 / production p99",
                .rule = PolicyRule::kPositive},
    PolicyField{.name = "max_error_rate_diff",
                .member = &Policy::max_error_rate_diff,
                .unit = "canary error rate - production error rate",
                .rule = PolicyRule::kPositive},
    PolicyField{.name = "latency_ratio_min_p99_ms",
                .member = &Policy::latency_ratio_min_p99_ms,
                .unit = "ms (canary p99)",
                .rule = PolicyRule::kNonNegative,
                .doc = "the ratio rule judges only a canary p99 at least this (0: always)"},
    PolicyField{.name = "latency_breaches_to_rollback",
                .member = &Policy::latency_breaches_to_rollback,
                .unit = "consecutive checks",
                .rule = PolicyRule::kPositive,
                .read_min = 1,
                .read_max = 1'000'000},
    PolicyField{.name = "error_breaches_to_rollback",
                .member = &Policy::error_breaches_to_rollback,
                .unit = "consecutive checks",
                .rule = PolicyRule::kPositive,
                .read_min = 1,
                .read_max = 1'000'000},
    PolicyField{.name = "min_invocations",
                .member = &Policy::min_invocations,
                .unit = "canary invocations per check",
                .rule = PolicyRule::kNonNegative},
    PolicyField{.name = "auto_rollback", .member = &Policy::auto_rollback},
    // ML-aware analysis (issue 14): the latency judge and the prediction divergence check.
    PolicyField{.name = "latency_judge",
                .member = &Policy::latency_judge,
                .unit = "judge",
                .rule = PolicyRule::kNone,
                .doc = "how canary latency is compared with production's: threshold (the p99 "
                       "ratio rule, the default) or mann_whitney (a one-sided Mann-Whitney U "
                       "test plus latency_min_effect)",
                .choices = kLatencyJudgeNames},
    PolicyField{.name = "latency_alpha",
                .member = &Policy::latency_alpha,
                .unit = "significance level",
                .rule = PolicyRule::kAlpha,
                .doc = "mann_whitney: the canary is slower only when p < this (0.05); in (0, 0.5]"},
    PolicyField{.name = "latency_min_effect",
                .member = &Policy::latency_min_effect,
                .unit = "canary p50 / production p50",
                .rule = PolicyRule::kPositive,
                .doc = "mann_whitney: and only when the p50 ratio is at least this (1.1)"},
    PolicyField{.name = "divergence_psi_max",
                .member = &Policy::divergence_psi_max,
                .unit = "population stability index",
                .rule = PolicyRule::kNonNegative,
                .doc = "PSI of canary predictions against production's (deciles of "
                       "production) at which a check is divergence-breached (0: off, the "
                       "default; 0.2 is a common choice)"},
    PolicyField{.name = "divergence_min_predictions",
                .member = &Policy::divergence_min_predictions,
                .unit = "predictions of each variant per check",
                .rule = PolicyRule::kNonNegative,
                .doc = "fewer predictions of either variant: divergence is not judged (1000)"},
    PolicyField{.name = "divergence_breaches_to_rollback",
                .member = &Policy::divergence_breaches_to_rollback,
                .unit = "consecutive checks",
                .rule = PolicyRule::kPositive,
                .read_min = 1,
                .read_max = 1'000'000,
                .doc = "consecutive divergence-breached checks that roll back (2)"},
    // Issue 15: a rollout that makes no progress ends.
    PolicyField{.name = "progress_deadline",
                .member = &Policy::progress_deadline,
                .unit = "time",
                .rule = PolicyRule::kNonNegative,
                .doc = "a deployment that has not reached its next weight within this since it "
                       "reached the current one (inconclusive checks, a held gate) ends as "
                       "on_progress_deadline says (0s: off, the default)"},
    PolicyField{.name = "on_progress_deadline",
                .member = &Policy::on_progress_deadline,
                .unit = "action",
                .rule = PolicyRule::kNone,
                .doc = "what a passed progress_deadline does: rollback (the default) or fail",
                .choices = kDeadlineActionNames},
    // The shadow phase and the paired divergence check (issue 14).
    PolicyField{.name = "shadow.duration",
                .member = &Policy::shadow_duration,
                .unit = "time",
                .rule = PolicyRule::kPositive,
                .doc = "shadow phase before the split: the canary answers a copy of production's "
                       "requests for this long (healthy throughout), never returned to users; "
                       "leave shadow out for none"},
    PolicyField{.name = "shadow.sample",
                .member = &Policy::shadow_sample,
                .unit = "share of production's requests",
                .rule = PolicyRule::kShare,
                .doc = "share of production's requests copied to the canary in shadow (1.0); in "
                       "(0, 1]"},
    PolicyField{.name = "divergence_tolerance",
                .member = &Policy::divergence_tolerance,
                .unit = "|canary - production| prediction",
                .rule = PolicyRule::kNonNegative,
                .doc = "paired check: a pair disagrees when its predictions differ by more than "
                       "this (0.01)"},
    PolicyField{.name = "divergence_max_disagreement",
                .member = &Policy::divergence_max_disagreement,
                .unit = "share of pairs",
                .rule = PolicyRule::kFraction,
                .doc = "paired check (shadow): the share of disagreeing pairs at which a check is "
                       "divergence-breached (0: off, the default); in [0, 1]"},
    PolicyField{.name = "divergence_output",
                .member = &Policy::divergence_output,
                .unit = "output index",
                .rule = PolicyRule::kNone,
                .read_min = -1,
                .read_max = 1'000'000,
                .doc = "the output compared of a model with several outputs per row (-1: "
                       "single-output models only)"},
    PolicyField{.name = "divergence_mirror_sample",
                .member = &Policy::divergence_mirror_sample,
                .unit = "share of each variant's requests",
                .rule = PolicyRule::kFraction,
                .doc = "paired check in the split phase: this share of the requests each variant "
                       "answers is also sent to the other (asynchronously, never returned) and "
                       "the pair compared (0: off, the default); in [0, 1]"},
    // Hooks (issue 15).
    PolicyField{.name = "hooks",
                .member = &Policy::hooks,
                .unit = "HTTP calls",
                .rule = PolicyRule::kHook,
                .doc = "HTTP hooks by point: pre_rollout (non-2xx fails the deployment before "
                       "traffic moves), confirm_step (before each step up; non-2xx holds the "
                       "step), pre_complete (before COMPLETED; non-2xx holds), post_rollout and "
                       "on_rollback (informational). Each {url, timeout (10s, at most 30s), "
                       "retries (1, 0..3), metadata}; POSTed the deployment and its last check"},
    PolicyField{.name = "analysis",
                .member = &Policy::analysis,
                .unit = "HTTP calls",
                .rule = PolicyRule::kHook,
                .doc = "analysis hooks called at every check, each {url, timeout, retries, "
                       "metadata}, answering {\"verdict\": \"healthy|breached|inconclusive\", "
                       "\"reason\": ...}: judged like a metric (analysis_breaches_to_rollback); "
                       "an unreachable hook counts as inconclusive"},
    PolicyField{.name = "analysis_breaches_to_rollback",
                .member = &Policy::analysis_breaches_to_rollback,
                .unit = "consecutive checks",
                .rule = PolicyRule::kPositive,
                .read_min = 1,
                .read_max = 1'000'000,
                .doc = "consecutive analysis-breached checks that roll back (2)"},
};

constexpr auto kNames = [] {
  std::array<std::string_view, kFields.size()> names;
  for (std::size_t i = 0; i < kFields.size(); ++i) names[i] = kFields[i].name;
  return names;
}();

constexpr std::string_view Group(std::string_view name) {
  const auto dot = name.find('.');
  return dot == std::string_view::npos ? std::string_view() : name.substr(0, dot);
}

// The top-level keys: the names outside groups, each group once (at its first field).
constexpr std::size_t kNumTopKeys = [] {
  std::size_t n = 0;
  for (std::size_t i = 0; i < kFields.size(); ++i) {
    const std::string_view g = Group(kFields[i].name);
    if (g.empty() || i == 0 || Group(kFields[i - 1].name) != g) ++n;
  }
  return n;
}();
constexpr auto kTopKeys = [] {
  std::array<std::string_view, kNumTopKeys> keys;
  std::size_t n = 0;
  for (std::size_t i = 0; i < kFields.size(); ++i) {
    const std::string_view g = Group(kFields[i].name);
    if (g.empty()) {
      keys[n++] = kFields[i].name;
    } else if (i == 0 || Group(kFields[i - 1].name) != g) {
      keys[n++] = g;
    }
  }
  return keys;
}();

constexpr bool IsList(const PolicyField& field) {
  return std::holds_alternative<std::vector<PolicyStep> Policy::*>(field.member);
}

constexpr auto kReadOrder = [] {
  std::array<PolicyField, kFields.size()> order;
  std::size_t n = 0;
  for (const PolicyField& field : kFields) {
    if (!IsList(field)) order[n++] = field;
  }
  for (const PolicyField& field : kFields) {
    if (IsList(field)) order[n++] = field;
  }
  return order;
}();

}  // namespace

std::span<const PolicyField> PolicyFields() { return kFields; }
std::span<const std::string_view> PolicyFieldNames() { return kNames; }
std::span<const PolicyField> PolicyFieldsInReadOrder() { return kReadOrder; }
std::span<const std::string_view> PolicyTopKeys() { return kTopKeys; }

std::string_view GroupOf(const PolicyField& field) { return Group(field.name); }

std::string_view KeyOf(const PolicyField& field) {
  const std::string_view group = Group(field.name);
  return group.empty() ? field.name : field.name.substr(group.size() + 1);
}

std::vector<std::string_view> PolicyGroupKeys(std::string_view group) {
  std::vector<std::string_view> keys;
  for (const PolicyField& field : kFields) {
    if (GroupOf(field) == group) keys.push_back(KeyOf(field));
  }
  return keys;
}

bool PolicyGroupOn(std::string_view group, const Policy& policy) {
  if (group == "shadow") return ShadowOn(policy);
  return true;
}

PolicyFieldError GroupOffError(std::string_view group) {
  for (const PolicyField& field : kFields) {
    if (GroupOf(field) == group) {
      return PolicyFieldError{.field = field.name,
                              .index = std::nullopt,
                              .message = "must be given and > 0 when " + std::string(group) +
                                         " is (leave " + std::string(group) + " out for none)"};
    }
  }
  return PolicyFieldError{.field = group, .index = std::nullopt, .message = "unknown group"};
}

PolicyFieldType TypeOf(const PolicyField& field) {
  return std::visit(
      [](auto member) {
        using T = std::remove_cvref_t<decltype(std::declval<const Policy&>().*member)>;
        if constexpr (std::is_same_v<T, double>) {
          return PolicyFieldType::kNumber;
        } else if constexpr (std::is_same_v<T, std::vector<PolicyStep>>) {
          return PolicyFieldType::kStepList;
        } else if constexpr (std::is_same_v<T, Duration>) {
          return PolicyFieldType::kDuration;
        } else if constexpr (std::is_same_v<T, bool>) {
          return PolicyFieldType::kBoolean;
        } else if constexpr (std::is_enum_v<T>) {
          return PolicyFieldType::kChoice;
        } else if constexpr (std::is_same_v<T, PolicyHooks>) {
          return PolicyFieldType::kHooks;
        } else if constexpr (std::is_same_v<T, std::vector<HookSpec>>) {
          return PolicyFieldType::kHookList;
        } else {
          static_assert(std::is_integral_v<T>);
          return PolicyFieldType::kInteger;
        }
      },
      field.member);
}

bool PolicyFieldInUse(const PolicyField& field, const Policy& policy) {
  if (const std::string_view group = GroupOf(field); !group.empty()) {
    return PolicyGroupOn(group, policy);
  }
  if (std::holds_alternative<PolicyHooks Policy::*>(field.member)) return !policy.hooks.empty();
  if (std::holds_alternative<std::vector<HookSpec> Policy::*>(field.member)) {
    return !policy.analysis.empty();
  }
  switch (field.rule) {
    case PolicyRule::kWeight:
      return policy.steps.empty();
    case PolicyRule::kWeightSchedule:
      return !policy.steps.empty();
    default:
      return true;
  }
}

std::string_view ChoiceName(const PolicyField& field, std::size_t index) {
  return index < field.choices.size() ? field.choices[index] : std::string_view();
}

std::optional<std::size_t> ParseChoice(const PolicyField& field, std::string_view name) {
  for (std::size_t i = 0; i < field.choices.size(); ++i) {
    if (field.choices[i] == name) return i;
  }
  return std::nullopt;
}

std::string ChoiceError(const PolicyField& field) {
  std::string out = "must be one of ";
  for (std::size_t i = 0; i < field.choices.size(); ++i) {
    if (i > 0) out += ", ";
    out += field.choices[i];
  }
  return out;
}

std::optional<std::string> CheckReadRange(const PolicyField& field, std::int64_t value) {
  if (field.read_max == 0 || (value >= field.read_min && value <= field.read_max)) {
    return std::nullopt;
  }
  return "must be between " + std::to_string(field.read_min) + " and " +
         std::to_string(field.read_max);
}

}  // namespace mlcanary::core
