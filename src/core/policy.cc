// Policy validation and the traffic schedule (which weight comes next).
#include "core/policy.h"

#include <charconv>
#include <cmath>
#include <string>
#include <type_traits>
#include <utility>

#include "core/policy_fields.h"

namespace mlcanary::core {
namespace {

// The shortest text that reads back as `v` ("0.1", "1e-07"): a small weight
// must not print as "0".
std::string Num(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

using FieldCheck = std::expected<void, PolicyFieldError>;

std::unexpected<PolicyFieldError> Fail(const PolicyField& field, std::string message,
                                       std::optional<std::size_t> index = std::nullopt) {
  return std::unexpected(
      PolicyFieldError{.field = field.name, .index = index, .message = std::move(message)});
}

FieldCheck CheckResolution(const PolicyField& field, std::optional<std::size_t> index, double v,
                           bool allow_zero) {
  // Weights live on the kWeightResolution grid (RoundWeight): a smaller one
  // would round to 0 and the canary would never receive traffic.
  if (v != 0.0 && v < kWeightResolution) {
    return Fail(field,
                "weight " + Num(v) + " must be " + (allow_zero ? "0 or " : "") + "at least " +
                    Num(kWeightResolution) +
                    " (the weight resolution: a smaller weight rounds to 0)",
                index);
  }
  return {};
}

FieldCheck CheckWeight(const PolicyField& field, std::optional<std::size_t> index, double v,
                       bool allow_zero, PolicyRules rules) {
  if (!std::isfinite(v) || v > 1.0 || v < 0.0 || (!allow_zero && v == 0.0)) {
    return Fail(field,
                "weight " + Num(v) + (allow_zero ? " must be in [0, 1]" : " must be in (0, 1]"),
                index);
  }
  if (rules == PolicyRules::kStored) return {};
  return CheckResolution(field, index, v, allow_zero);
}

// A step's own keys: bake not negative, no gate on the first step.
FieldCheck CheckStepKeys(const PolicyField& field, const std::vector<PolicyStep>& steps,
                         std::size_t i) {
  const PolicyStep& step = steps[i];
  if (step.bake && step.bake->count() < 0) {
    auto fail = Fail(field, "must not be negative", i);
    fail.error().key = "bake";
    return fail;
  }
  if (i == 0 && step.manual_gate) {
    // The first step is the initial weight, which a deployment takes when it
    // starts; a gate belongs on the step whose weight must wait for approval.
    auto fail = Fail(field,
                     "a gate on the first step (the initial weight) is refused: put it on a "
                     "later step",
                     i);
    fail.error().key = "gate";
    return fail;
  }
  return {};
}

FieldCheck CheckSchedule(const PolicyField& field, const std::vector<PolicyStep>& steps,
                         PolicyRules rules) {
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const double w = steps[i].weight;
    if (auto s = CheckWeight(field, i, w, false, rules); !s) return s;
    if (auto s = CheckStepKeys(field, steps, i); !s) return s;
    if (i == 0) continue;
    const double before = steps[i - 1].weight;
    if (w <= before) {
      return Fail(field,
                  "steps must be strictly increasing (" + Num(before) + " then " + Num(w) + ")", i);
    }
    if (rules == PolicyRules::kNew && SameWeight(RoundWeight(w), RoundWeight(before))) {
      return Fail(field,
                  "steps must be strictly increasing at the weight resolution " +
                      Num(kWeightResolution) + " (" + Num(before) + " then " + Num(w) + ")",
                  i);
    }
  }
  return {};
}

// One hook's own keys (url, timeout, retries), as an error with `key` (the
// hook point's name, for `hooks`) or `index` (for `analysis`) filled by the caller.
std::optional<std::pair<std::string_view, std::string>> CheckHook(const HookSpec& h) {
  const bool http = h.url.starts_with("http://") || h.url.starts_with("https://");
  if (!http || h.url.find_first_of(" \t\r\n") != std::string::npos) {
    return std::pair<std::string_view, std::string>(
        "url", "'" + h.url + "' must be an http:// or https:// URL");
  }
  const std::string_view rest =
      std::string_view(h.url).substr(h.url.starts_with("https://") ? 8 : 7);
  if (rest.empty() || rest.front() == '/') {
    return std::pair<std::string_view, std::string>("url", "'" + h.url + "' has no host");
  }
  if (h.timeout.count() <= 0 || h.timeout > kMaxHookTimeout) {
    return std::pair<std::string_view, std::string>(
        "timeout",
        FormatDuration(h.timeout) + " must be > 0 and at most " + FormatDuration(kMaxHookTimeout));
  }
  if (h.retries < 0 || h.retries > kMaxHookRetries) {
    return std::pair<std::string_view, std::string>(
        "retries",
        std::to_string(h.retries) + " must be between 0 and " + std::to_string(kMaxHookRetries));
  }
  return std::nullopt;
}

FieldCheck CheckHooks(const PolicyField& field, const PolicyHooks& hooks) {
  for (std::size_t i = 0; i < kNumHookPoints; ++i) {
    if (!hooks.at[i]) continue;
    if (auto bad = CheckHook(*hooks.at[i])) {
      auto fail = Fail(field, std::move(bad->second));
      fail.error().key = kHookPointNames[i];
      fail.error().subkey = bad->first;
      return fail;
    }
  }
  return {};
}

FieldCheck CheckAnalysis(const PolicyField& field, const std::vector<HookSpec>& hooks) {
  for (std::size_t i = 0; i < hooks.size(); ++i) {
    if (auto bad = CheckHook(hooks[i])) {
      auto fail = Fail(field, std::move(bad->second), i);
      fail.error().key = bad->first;
      return fail;
    }
  }
  return {};
}

// One field's rule (PolicyField::rule); the message depends on the type.
FieldCheck CheckField(const PolicyField& field, const Policy& p, PolicyRules rules) {
  if (field.rule == PolicyRule::kNone || !PolicyFieldInUse(field, p)) return {};
  const bool positive = field.rule == PolicyRule::kPositive;
  return VisitPolicyField(field, p, [&](const auto& v) -> FieldCheck {
    using T = std::remove_cvref_t<decltype(v)>;
    if constexpr (std::is_same_v<T, std::vector<PolicyStep>>) {
      return CheckSchedule(field, v, rules);
    } else if constexpr (std::is_same_v<T, PolicyHooks>) {
      return CheckHooks(field, v);
    } else if constexpr (std::is_same_v<T, std::vector<HookSpec>>) {
      return CheckAnalysis(field, v);
    } else if constexpr (std::is_same_v<T, double>) {
      if (field.rule == PolicyRule::kWeight) return CheckWeight(field, {}, v, false, rules);
      if (field.rule == PolicyRule::kAlpha) {
        if (!(v > 0 && v <= 0.5)) return Fail(field, Num(v) + " must be in (0, 0.5]");
        return {};
      }
      if (field.rule == PolicyRule::kShare) {
        if (!(v > 0 && v <= 1)) return Fail(field, Num(v) + " must be in (0, 1]");
        return {};
      }
      if (field.rule == PolicyRule::kFraction) {
        if (!(v >= 0 && v <= 1)) return Fail(field, Num(v) + " must be in [0, 1]");
        return {};
      }
      if (!std::isfinite(v) || (positive ? v <= 0 : v < 0)) {
        return Fail(field, Num(v) + (positive ? " must be a finite number > 0"
                                              : " must be a finite number >= 0"));
      }
    } else if constexpr (std::is_same_v<T, Duration>) {
      if (positive && v.count() <= 0) return Fail(field, "must be > 0");
      if (!positive && v.count() < 0) return Fail(field, "must not be negative");
    } else if constexpr (std::is_enum_v<T>) {
      if (ChoiceName(field, static_cast<std::size_t>(v)).empty())
        return Fail(field, ChoiceError(field));
    } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      if (positive && v < 1) return Fail(field, "must be >= 1");
      if (!positive && v < 0) return Fail(field, "must be >= 0");
    }
    return {};
  });
}

}  // namespace

double RoundWeight(double weight) { return std::round(weight * 1e6) / 1e6; }
bool SameWeight(double a, double b) { return std::fabs(a - b) < 5e-7; }

std::string PolicyFieldError::Path() const {
  std::string path(field);
  if (index) path += "[" + std::to_string(*index) + "]";
  if (!key.empty()) path += "." + std::string(key);
  if (!subkey.empty()) path += "." + std::string(subkey);
  return path;
}

Error PolicyFieldError::ToError() const {
  return Error(ErrorCode::kValidation, "policy." + Path() + ": " + message);
}

std::expected<void, PolicyFieldError> CheckPolicy(const Policy& p, PolicyRules rules) {
  for (const PolicyField& field : PolicyFields()) {
    if (auto s = CheckField(field, p, rules); !s) return s;
  }
  return {};
}

Status ValidatePolicy(const Policy& p, PolicyRules rules) {
  if (auto s = CheckPolicy(p, rules); !s) return std::unexpected(s.error().ToError());
  return Ok();
}

Status CheckDivergenceOutputs(const Policy& p, std::string_view who,
                              std::optional<std::size_t> outputs) {
  if (!outputs || *outputs == 0) return Ok();
  const std::string n = std::to_string(*outputs);
  const std::string range = *outputs > 1 ? " (0.." + std::to_string(*outputs - 1) + ")" : " (0)";
  if (PairedDivergenceOn(p)) {
    if (p.divergence_output < 0 && *outputs > 1) {
      return ValidationError("policy.divergence_output: " + std::string(who) + " returns " + n +
                             " outputs per row; set divergence_output to the one the paired "
                             "check compares" +
                             range);
    }
    if (p.divergence_output >= 0 && static_cast<std::size_t>(p.divergence_output) >= *outputs) {
      return ValidationError("policy.divergence_output: " + std::string(who) + " returns " + n +
                             " output" + (*outputs > 1 ? "s" : "") + " per row; output " +
                             std::to_string(p.divergence_output) + " does not exist" + range);
    }
  }
  if (p.divergence_psi_max > 0 && *outputs > 1) {
    return ValidationError(
        "policy.divergence_psi_max: " + std::string(who) + " returns " + n +
        " outputs per row; the PSI check reads each row's first output and compares "
        "single-output models only (divergence_output chooses the paired check's output); set "
        "divergence_psi_max: 0 for this model");
  }
  return Ok();
}

Status CheckWeightResolution(const Policy& p) {
  for (const PolicyField& field : PolicyFields()) {
    if (!PolicyFieldInUse(field, p)) continue;
    auto s = VisitPolicyField(field, p, [&](const auto& v) -> FieldCheck {
      using T = std::remove_cvref_t<decltype(v)>;
      if constexpr (std::is_same_v<T, double>) {
        if (field.rule == PolicyRule::kWeight) return CheckResolution(field, {}, v, false);
      } else if constexpr (std::is_same_v<T, std::vector<PolicyStep>>) {
        for (std::size_t i = 0; i < v.size(); ++i) {
          if (auto r = CheckResolution(field, i, v[i].weight, false); !r) return r;
        }
      }
      return {};
    });
    if (!s) return std::unexpected(s.error().ToError());
  }
  return Ok();
}

double InitialWeight(const Policy& p) {
  return RoundWeight(p.steps.empty() ? p.initial_weight : p.steps.front().weight);
}

const PolicyStep* StepAt(const Policy& p, double weight) {
  for (const PolicyStep& s : p.steps) {
    if (SameWeight(RoundWeight(s.weight), weight)) return &s;
  }
  return nullptr;
}

Duration BakeAt(const Policy& p, double weight) {
  const PolicyStep* step = StepAt(p, weight);
  if (step != nullptr && step->bake) return *step->bake;
  return SameWeight(weight, 1.0) ? p.final_bake : p.bake;
}

bool GateAt(const Policy& p, double weight) {
  const PolicyStep* step = StepAt(p, weight);
  return step != nullptr && step->manual_gate;
}

double NextWeight(const Policy& p, double current) {
  if (!p.steps.empty()) {
    for (const PolicyStep& s : p.steps) {
      if (RoundWeight(s.weight) > current + 5e-7) return RoundWeight(s.weight);
    }
    return 1.0;  // a schedule that stops short of 1.0 ends with the full shift
  }
  return std::min(1.0, RoundWeight(current + p.step));
}

}  // namespace mlcanary::core
