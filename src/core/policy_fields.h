// The fields of a Policy, described once: name, type, unit, default, rule and
// doc line, each with a pointer to its core::Policy member. Every form of a
// policy walks this table: the YAML reader (config/policy_yaml), the JSON reader
// and writer (codec/domain_json), the OpenAPI schema (api/openapi) and the
// rules of CheckPolicy / ValidatePolicy. A new field is a member of Policy and a
// row here; policy_fields_test fails when a member has no row.
#ifndef MLCANARY_CORE_POLICY_FIELDS_H_
#define MLCANARY_CORE_POLICY_FIELDS_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/policy.h"
#include "core/time.h"

namespace mlcanary::core {

// The form of a field's value, which decides how each reader and writer spells it.
enum class PolicyFieldType {
  kNumber,    // double
  kStepList,  // std::vector<PolicyStep> (the steps schedule): numbers or step objects
  kDuration,  // Duration: text with a unit ("10m"); bare minutes in scenario YAML
  kInteger,   // int or std::int64_t
  kBoolean,
  kChoice,    // an enum: one of PolicyField::choices, written as its name
  kHooks,     // PolicyHooks: an object {pre_rollout: HOOK, ...} (issue 15)
  kHookList,  // std::vector<HookSpec>: a list of HOOK objects (analysis)
};

// The rule CheckPolicy applies; the message also depends on the type.
enum class PolicyRule {
  kNone,
  // A weight in (0, 1], 0 or at least kWeightResolution. Part of the simple
  // schedule (initial_weight, step): used only while `steps` is empty.
  kWeight,
  // Weights as kWeight, strictly increasing (also once rounded to the grid).
  // The explicit schedule: used only when not empty, and then it is the whole one.
  kWeightSchedule,
  kPositive,     // > 0: a finite number > 0, a duration > 0, an integer >= 1
  kNonNegative,  // >= 0: a finite number >= 0, a duration not negative, an integer >= 0
  kAlpha,        // a significance level: a number in (0, 0.5]
  kShare,        // a share: a number in (0, 1]
  kFraction,     // a fraction: a number in [0, 1]
  kHook,         // hooks: an http(s) url, timeout in (0, 30s], retries in [0, 3]
};

using PolicyMember =
    std::variant<double Policy::*, std::vector<PolicyStep> Policy::*, Duration Policy::*,
                 int Policy::*, std::int64_t Policy::*, bool Policy::*, LatencyJudge Policy::*,
                 DeadlineAction Policy::*, PolicyHooks Policy::*, std::vector<HookSpec> Policy::*>;

struct PolicyField {
  // The key in YAML and JSON, the OpenAPI property. A name "group.key" is the
  // key `key` of the object `group` ("shadow.sample": `shadow: {sample: 1}`);
  // a group's fields are adjacent in the table, its first one is its switch
  // (PolicyGroupOn).
  std::string_view name;
  PolicyMember member;    // its default is the member's in Policy{}
  std::string_view unit;  // what the value measures ("" for a switch)
  PolicyRule rule = PolicyRule::kNone;
  // Integers: the readers take only [read_min, read_max] ("must be between 1
  // and 1000000"), so that the value fits the member. read_max 0: any int64.
  std::int64_t read_min = 0;
  std::int64_t read_max = 0;
  std::string_view doc;  // the OpenAPI description; "" for none
  // kChoice: the names of the enum's values, in enum order.
  std::span<const std::string_view> choices = {};
};

// The name of a kChoice field's value; "" when out of range.
std::string_view ChoiceName(const PolicyField& field, std::size_t index);
// The index of `name` among a kChoice field's names; nullopt when not one.
std::optional<std::size_t> ParseChoice(const PolicyField& field, std::string_view name);
// "must be one of threshold, mann_whitney": what readers say of another name.
std::string ChoiceError(const PolicyField& field);

// Every field, in the order of the JSON writer, the OpenAPI schema and the checks.
std::span<const PolicyField> PolicyFields();
// The names, in the same order (the keys a reader allows, as its error lists them).
std::span<const std::string_view> PolicyFieldNames();
// The order in which readers apply the keys: PolicyFields() with the list
// (steps) last, so that of two bad keys the one reported is the same as
// before the table.
std::span<const PolicyField> PolicyFieldsInReadOrder();

PolicyFieldType TypeOf(const PolicyField& field);

// "shadow" for "shadow.sample"; "" for a field outside a group.
std::string_view GroupOf(const PolicyField& field);
// "sample" for "shadow.sample"; the name for a field outside a group.
std::string_view KeyOf(const PolicyField& field);
// The top-level keys a reader allows: the names outside groups, and each group once.
std::span<const std::string_view> PolicyTopKeys();
// The keys a reader allows inside `group` ("duration", "sample").
std::vector<std::string_view> PolicyGroupKeys(std::string_view group);
// Whether `group` is on in `policy` (shadow: shadow.duration > 0); a group that
// is off is not written.
bool PolicyGroupOn(std::string_view group, const Policy& policy);
// What a reader says of a group that was given but is off (`shadow: {sample:
// 0.5}` without a duration): the group's switch field and the message.
PolicyFieldError GroupOffError(std::string_view group);

// Whether `field` is part of `policy`'s schedule: initial_weight and step
// while steps is empty, steps when not; every other field always. A field not
// in use is neither checked nor written.
bool PolicyFieldInUse(const PolicyField& field, const Policy& policy);

// The readers' range check of an integer field: the message ("must be between
// 1 and 1000000") for a value outside [read_min, read_max], nullopt otherwise.
std::optional<std::string> CheckReadRange(const PolicyField& field, std::int64_t value);

// The keys of a step object in `steps` ({weight: 0.5, bake: 30m, gate: manual}).
inline constexpr std::string_view kStepKeys[] = {"weight", "bake", "gate"};

// Calls fn(policy.*member) with the member's own type (double&, Duration&,
// std::vector<PolicyStep>&, int&, std::int64_t&, bool&, an enum&, PolicyHooks&,
// std::vector<HookSpec>&; const for a const policy).
template <typename P, typename F>
decltype(auto) VisitPolicyField(const PolicyField& field, P& policy, F&& fn) {
  return std::visit([&](auto member) -> decltype(auto) { return fn(policy.*member); },
                    field.member);
}

}  // namespace mlcanary::core

#endif  // MLCANARY_CORE_POLICY_FIELDS_H_
