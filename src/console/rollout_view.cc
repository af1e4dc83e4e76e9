// The demo's live view of rollouts.
#include "console/rollout_view.h"

#include <chrono>

namespace mlcanary::console {
namespace {

std::string Name(std::string_view name) { return std::string(name); }

std::string Elapsed(const core::DeploymentEvent& e, const std::optional<core::Timestamp>& start) {
  if (!start) return "";
  return "+" + Seconds(std::chrono::duration<double>(e.time - *start).count());
}

std::string Metrics(const core::WindowMetrics& m) {
  return Format("%8.2fms %6.2f%% %5lld", m.p99_ms, m.error_rate() * 100,
                static_cast<long long>(m.invocations));
}

std::string CheckLine(const Style& style, const std::string& when, const core::DeploymentEvent& e,
                      const core::HealthReport& check) {
  std::string line = Format("%s  %s %4s \u2502 %s \u2502 %s \u2502 ", when.c_str(),
                            Bar(e.weight_before).c_str(), Percent(e.weight_before).c_str(),
                            Metrics(check.canary).c_str(), Metrics(check.production).c_str());
  line += VerdictText(style, check.verdict);
  if (check.verdict != core::Verdict::kHealthy && check.verdict != core::Verdict::kInconclusive) {
    line += style.Dim("  " + check.reason);
  }
  return line;
}

// What an event other than a check changed: states, weight, or its kind.
std::string Change(const Style& style, const core::DeploymentEvent& e) {
  const std::string weights = Percent(e.weight_before) + " \u2192 " + Percent(e.weight_after);
  std::string what;
  if (e.kind == core::EventKind::kTransition) {
    what = e.from_state == e.to_state
               ? StateText(style, core::StateName(e.to_state))
               : StateText(style, core::StateName(e.from_state)) + " \u2192 " +
                     StateText(style, core::StateName(e.to_state));
    if (!core::SameWeight(e.weight_before, e.weight_after)) {
      what += style.Cyan("  (weight " + weights + ")");
    }
  } else if (e.kind == core::EventKind::kWeightChange) {
    what = style.Cyan("weight " + weights);
  } else {
    what = style.Yellow(core::EventKindName(e.kind));
  }
  return what;
}

}  // namespace

std::string StateText(const Style& style, std::string_view state) {
  if (state == "COMPLETED") return style.Green(state);
  if (state == "ROLLED_BACK" || state == "ROLLING_BACK" || state == "FAILED") {
    return style.Red(state);
  }
  return style.Yellow(state);
}

std::string VerdictText(const Style& style, core::Verdict verdict) {
  std::string text = Name(core::VerdictName(verdict));
  for (char& c : text) c = c == '_' ? ' ' : c;
  if (verdict == core::Verdict::kHealthy) return style.Green(text);
  if (verdict == core::Verdict::kInconclusive) return style.Yellow(text);
  return style.Red(text);
}

std::string CheckHeader(const Style& style) {
  return style.Dim(Format("%10s  %-25s \u2502 %10s %7s %5s \u2502 %10s %7s %5s \u2502 %s", "time",
                          "canary weight", "canary p99", "errors", "n", "prod p99", "errors", "n",
                          "verdict"));
}

std::string TimelineLine(const Style& style, const core::DeploymentEvent& e,
                         const std::optional<core::Timestamp>& start) {
  const std::string when = Format("%10s", Elapsed(e, start).c_str());
  if (e.kind == core::EventKind::kCheck && e.check) return CheckLine(style, when, e, *e.check);
  return Format("%s  %s %4s \u25b8 ", when.c_str(), Bar(e.weight_after).c_str(),
                Percent(e.weight_after).c_str()) +
         style.Bold(Change(style, e)) + ": " + e.reason;
}

std::string TrafficLine(const loadgen::LoadSnapshot& now, const loadgen::LoadSnapshot& base,
                        double rate) {
  using Count = unsigned long long;
  std::string out = Format("   traffic %4.0f req/s \u2502", rate);
  for (const auto& [variant, counts] : now.variants) {
    loadgen::VariantCounts delta = counts;
    if (auto it = base.variants.find(variant); it != base.variants.end()) {
      for (const auto& [status, n] : it->second.by_status) delta.by_status[status] -= n;
    }
    if (delta.total() == 0) continue;
    out += Format(" %s: %llu ok", variant.empty() ? "?" : variant.c_str(),
                  static_cast<Count>(delta.ok()));
    if (delta.errors_4xx() > 0) out += Format(" %llu 4xx", static_cast<Count>(delta.errors_4xx()));
    if (delta.errors_5xx() > 0) out += Format(" %llu 5xx", static_cast<Count>(delta.errors_5xx()));
    out += " \u2502";
  }
  if (now.transport_errors > base.transport_errors) {
    out += Format(" %llu connection errors",
                  static_cast<Count>(now.transport_errors - base.transport_errors));
  }
  return out;
}

std::string TrafficTotals(const loadgen::LoadSnapshot& traffic) {
  using Count = unsigned long long;
  std::string by_variant;
  for (const auto& [variant, counts] : traffic.variants) {
    by_variant +=
        Format("%s%s %llu (%llu errors)", by_variant.empty() ? "" : ", ",
               variant.empty() ? "?" : variant.c_str(), static_cast<Count>(counts.total()),
               static_cast<Count>(counts.errors_4xx() + counts.errors_5xx()));
  }
  return Format("  traffic: %llu requests answered", static_cast<Count>(traffic.answers)) +
         (by_variant.empty() ? "" : " \u2014 " + by_variant) +
         (traffic.transport_errors > 0
              ? Format("; %llu connection errors", static_cast<Count>(traffic.transport_errors))
              : "");
}

std::vector<std::string> PolicyLines(const core::Policy& policy) {
  std::string steps;
  for (const core::PolicyStep& s : policy.steps) {
    steps += (steps.empty() ? "" : " \u2192 ") + Percent(s.weight);
  }
  return {"   policy     steps " + steps +
              Format(", a check every %s, %llds healthy at each step, >= %lld canary requests per "
                     "check;",
                     core::FormatDuration(policy.interval).c_str(),
                     static_cast<long long>(
                         std::chrono::duration_cast<std::chrono::seconds>(policy.bake).count()),
                     static_cast<long long>(policy.min_invocations)),
          Format("              rollback after %d error-breached checks in a row (error rate "
                 ">= %.0f%%) or %d latency-breached (p99 >= %.0fms, or >= %.0fms and >= %.0f\u00d7 "
                 "production)",
                 policy.error_breaches_to_rollback, policy.max_error_rate * 100,
                 policy.latency_breaches_to_rollback, policy.max_p99_ms,
                 policy.latency_ratio_min_p99_ms, policy.max_latency_ratio)};
}

std::string RolloutTitle(const Style& style, int index, int total, std::string_view model_file,
                         std::string_view story, std::string_view expected) {
  return style.Bold(Format("\u2501\u2501 %d/%d  deploy %s", index, total,
                           std::string(model_file).c_str())) +
         " \u2014 " + std::string(story) + "  " +
         style.Dim("(expected: " + std::string(expected) + ")");
}

std::string RolloutStarted(const core::Deployment& d) {
  return Format("   deployment %s: %s \u2192 %s, canary starts at %s", d.id.c_str(),
                d.production_variant.c_str(), d.canary_variant.c_str(),
                Percent(d.canary_weight).c_str());
}

std::string RolloutEnded(const Style& style, const RolloutResult& r) {
  return Format("   %s %s in %s after %d checks", r.as_expected() ? "\u2714" : "\u2718",
                r.id.c_str(), Seconds(r.seconds).c_str(), r.checks) +
         " \u2014 " + StateText(style, r.final_state.empty() ? "UNFINISHED" : r.final_state) +
         (r.as_expected() ? "" : style.Red(" (expected " + r.expected + ")"));
}

std::vector<std::string> SummaryTable(const Style& style, const std::vector<RolloutResult>& rs) {
  std::vector<std::string> lines = {
      "", style.Bold("Summary"),
      style.Dim(Format("  %-22s %-13s %-13s %8s %7s  %s", "DEPLOYMENT", "MODEL", "FINAL STATE",
                       "TIME", "CHECKS", "REASON"))};
  for (const RolloutResult& r : rs) {
    const std::string state =
        Format("%-13s", r.final_state.empty() ? "UNFINISHED" : r.final_state.c_str());
    lines.push_back(
        Format("  %-22s %-13s ", r.id.empty() ? "-" : r.id.c_str(), r.model_file.c_str()) +
        (r.as_expected() ? style.Green(state) : style.Red(state)) +
        Format(" %8s %7d  ", Seconds(r.seconds).c_str(), r.checks) + r.reason +
        (r.as_expected() ? "" : style.Red(" [expected " + r.expected + "]")));
  }
  return lines;
}

}  // namespace mlcanary::console
