// Plain-text views of deployments and events for the CLI.
#include "console/deployment_text.h"

#include "console/style.h"

namespace mlcanary::console {
namespace {

std::string Name(auto name) { return std::string(name); }

bool InShadow(const core::Deployment& d) {
  return d.state == core::DeploymentState::kInProgress && d.phase == core::RolloutPhase::kShadow;
}

}  // namespace

std::string DeploymentListHeader() {
  return Format("%-24s %-12s %-13s %-14s %-27s\n", "ID", "ENDPOINT", "STATE", "CANARY", "WEIGHT");
}

std::string DeploymentRow(const core::Deployment& d) {
  return Format("%-24s %-12s %-13s %-14s %-22s %4s  %s\n", d.id.c_str(), d.endpoint.c_str(),
                Name(core::StateName(d.state)).c_str(), d.canary_variant.c_str(),
                Bar(d.canary_weight).c_str(), Percent(d.canary_weight).c_str(),
                d.paused      ? "paused"
                : InShadow(d) ? "shadow"
                              : "");
}

std::string DeploymentDetails(const core::Deployment& d) {
  return Format("deployment   %s\n", d.id.c_str()) +
         Format("endpoint     %s (%s -> %s)\n", d.endpoint.c_str(), d.production_variant.c_str(),
                d.canary_variant.c_str()) +
         Format("state        %s%s%s\n", Name(core::StateName(d.state)).c_str(),
                InShadow(d) ? " (shadow: the canary answers copies, weight 0)" : "",
                d.paused ? " (paused)" : "") +
         Format("canary       %s %s\n", Bar(d.canary_weight).c_str(),
                Percent(d.canary_weight).c_str()) +
         Format("created      %s\nupdated      %s\n", core::FormatRfc3339(d.created_at).c_str(),
                core::FormatRfc3339(d.updated_at).c_str());
}

std::string CheckSummary(const core::HealthReport& check) {
  return Format("canary p99 %6.1fms err %5.2f%% | prod p99 %6.1fms err %5.2f%% | %s",
                check.canary.p99_ms, check.canary.error_rate() * 100, check.production.p99_ms,
                check.production.error_rate() * 100,
                Name(core::VerdictName(check.verdict)).c_str());
}

std::string EventRow(const core::DeploymentEvent& e) {
  std::string detail = e.reason;
  if (e.check) detail = CheckSummary(*e.check) + "  " + detail;
  return Format("%4s %-24s %-13s %-12s %4s  %s\n", std::to_string(e.seq).c_str(),
                core::FormatRfc3339(e.time).c_str(), Name(core::EventKindName(e.kind)).c_str(),
                Name(core::StateName(e.to_state)).c_str(), Percent(e.weight_after).c_str(),
                detail.c_str());
}

std::string DeploymentStarted(const core::Deployment& d) {
  return Format(
      "deployment %s started: %s -> %s on %s at %s%s\n", d.id.c_str(), d.production_variant.c_str(),
      d.canary_variant.c_str(), d.endpoint.c_str(), Percent(d.canary_weight).c_str(),
      d.state == core::DeploymentState::kPending ? " (PENDING: the canary is being readied)" : "");
}

std::string WaitEventLine(const core::DeploymentEvent& e) {
  const std::string time = core::FormatRfc3339(e.time);
  if (e.check) {
    return Format("%s  %s %4s  %s\n", time.c_str(), Bar(e.weight_before).c_str(),
                  Percent(e.weight_before).c_str(), CheckSummary(*e.check).c_str());
  }
  return Format("%s  %s %4s  --> %s: %s\n", time.c_str(), Bar(e.weight_after).c_str(),
                Percent(e.weight_after).c_str(), Name(core::StateName(e.to_state)).c_str(),
                e.reason.c_str());
}

std::string WaitFinalLine(const core::Deployment& d) {
  return "final: " + Name(core::StateName(d.state)) + "\n";
}

}  // namespace mlcanary::console
