// Policy validation and the traffic schedule (which weight comes next).
#include "core/policy.h"

#include <charconv>
#include <cmath>
#include <string>

namespace mlcanary::core {
namespace {

// The shortest text that reads back as `v` ("0.1", "1e-07"): a small weight
// must not print as "0".
std::string Num(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

Status CheckResolution(const char* field, double v, bool allow_zero) {
  // Weights live on the kWeightResolution grid (RoundWeight): a smaller one
  // would round to 0 and the canary would never receive traffic.
  if (v != 0.0 && v < kWeightResolution) {
    return ValidationError(std::string("policy.") + field + ": weight " + Num(v) + " must be " +
                           (allow_zero ? "0 or " : "") + "at least " + Num(kWeightResolution) +
                           " (the weight resolution: a smaller weight rounds to 0)");
  }
  return Ok();
}

Status CheckWeight(const char* field, double v, bool allow_zero, PolicyRules rules) {
  if (!std::isfinite(v) || v > 1.0 || v < 0.0 || (!allow_zero && v == 0.0)) {
    return ValidationError(std::string("policy.") + field + ": weight " + Num(v) +
                           (allow_zero ? " must be in [0, 1]" : " must be in (0, 1]"));
  }
  if (rules == PolicyRules::kStored) return Ok();
  return CheckResolution(field, v, allow_zero);
}

Status CheckPositive(const char* field, double v) {
  if (!std::isfinite(v) || v <= 0) {
    return ValidationError(std::string("policy.") + field + ": " + Num(v) +
                           " must be a finite number > 0");
  }
  return Ok();
}

}  // namespace

double RoundWeight(double weight) { return std::round(weight * 1e6) / 1e6; }
bool SameWeight(double a, double b) { return std::fabs(a - b) < 5e-7; }

Status ValidatePolicy(const Policy& p, PolicyRules rules) {
  if (p.steps.empty()) {
    if (auto s = CheckWeight("initial_weight", p.initial_weight, false, rules); !s) return s;
    if (auto s = CheckWeight("step", p.step, false, rules); !s) return s;
  } else {
    for (std::size_t i = 0; i < p.steps.size(); ++i) {
      const std::string field = "steps[" + std::to_string(i) + "]";
      if (auto s = CheckWeight(field.c_str(), p.steps[i], false, rules); !s) return s;
      if (i > 0 && p.steps[i] <= p.steps[i - 1]) {
        return ValidationError("policy." + field + ": steps must be strictly increasing (" +
                               Num(p.steps[i - 1]) + " then " + Num(p.steps[i]) + ")");
      }
      if (rules == PolicyRules::kNew && i > 0 &&
          SameWeight(RoundWeight(p.steps[i]), RoundWeight(p.steps[i - 1]))) {
        return ValidationError("policy." + field + ": steps must be strictly increasing at the " +
                               "weight resolution " + Num(kWeightResolution) + " (" +
                               Num(p.steps[i - 1]) + " then " + Num(p.steps[i]) + ")");
      }
    }
  }
  if (p.bake.count() < 0) return ValidationError("policy.bake: must not be negative");
  if (p.interval.count() <= 0) return ValidationError("policy.interval: must be > 0");
  if (p.final_bake.count() < 0) return ValidationError("policy.final_bake: must not be negative");
  if (auto s = CheckPositive("max_p99_ms", p.max_p99_ms); !s) return s;
  if (auto s = CheckPositive("max_error_rate", p.max_error_rate); !s) return s;
  if (auto s = CheckPositive("max_latency_ratio", p.max_latency_ratio); !s) return s;
  if (auto s = CheckPositive("max_error_rate_diff", p.max_error_rate_diff); !s) return s;
  if (!std::isfinite(p.latency_ratio_min_p99_ms) || p.latency_ratio_min_p99_ms < 0) {
    return ValidationError("policy.latency_ratio_min_p99_ms: " + Num(p.latency_ratio_min_p99_ms) +
                           " must be a finite number >= 0");
  }
  if (p.latency_breaches_to_rollback < 1) {
    return ValidationError("policy.latency_breaches_to_rollback: must be >= 1");
  }
  if (p.error_breaches_to_rollback < 1) {
    return ValidationError("policy.error_breaches_to_rollback: must be >= 1");
  }
  if (p.min_invocations < 0) return ValidationError("policy.min_invocations: must be >= 0");
  return Ok();
}

Status CheckWeightResolution(const Policy& p) {
  if (p.steps.empty()) {
    if (auto s = CheckResolution("initial_weight", p.initial_weight, false); !s) return s;
    return CheckResolution("step", p.step, false);
  }
  for (std::size_t i = 0; i < p.steps.size(); ++i) {
    const std::string field = "steps[" + std::to_string(i) + "]";
    if (auto s = CheckResolution(field.c_str(), p.steps[i], false); !s) return s;
  }
  return Ok();
}

double InitialWeight(const Policy& p) {
  return RoundWeight(p.steps.empty() ? p.initial_weight : p.steps.front());
}

double NextWeight(const Policy& p, double current) {
  if (!p.steps.empty()) {
    for (double w : p.steps) {
      if (RoundWeight(w) > current + 5e-7) return RoundWeight(w);
    }
    return 1.0;  // a schedule that stops short of 1.0 ends with the full shift
  }
  return std::min(1.0, RoundWeight(current + p.step));
}

}  // namespace mlcanary::core
