// Virtual-time rollouts.
#include "sim/simulator.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "controller/controller.h"
#include "core/testing/memory_deployment_store.h"
#include "core/testing/virtual_traffic_control.h"
#include "sim/scenario_metrics_source.h"
#include "util/json_writer.h"

namespace mlcanary::sim {
namespace {

constexpr const char* kEndpoint = "sim";
constexpr const char* kProduction = "production";
constexpr const char* kCanary = "canary";

// Counts announcements; a simulation sends none anywhere.
class CountingNotifier final : public core::Notifier {
 public:
  void Notify(const core::Deployment&, const core::DeploymentEvent&) override { ++count_; }
  int count() const { return count_; }

 private:
  int count_ = 0;
};

// Minute 0 of every simulation.
core::Timestamp Epoch() {
  return core::Timestamp(std::chrono::sys_days(std::chrono::year(2026) / 1 / 1));
}

}  // namespace

core::Result<SimulationResult> Simulate(const Scenario& scenario) {
  const core::Policy& policy = scenario.policy;
  const double interval_minutes = core::ToMinutes(policy.interval);
  if (scenario.duration_minutes / interval_minutes > static_cast<double>(kMaxSimulatedChecks)) {
    return core::ValidationError(scenario.source + ": duration_minutes / policy.interval exceeds " +
                                 std::to_string(kMaxSimulatedChecks) + " checks");
  }
  const core::Timestamp epoch = Epoch();
  core::ManualClock clock(epoch);
  core::testing::VirtualTrafficControl traffic;
  core::Endpoint endpoint;
  endpoint.name = kEndpoint;
  endpoint.variants.push_back({.name = kProduction, .weight = 1.0, .instances = 1, .model = {}});
  traffic.AddEndpoint(endpoint);
  ScenarioMetricsSource metrics(scenario, traffic, epoch, kProduction, kCanary);
  core::testing::MemoryDeploymentStore store;
  CountingNotifier notifier;
  controller::Controller controller({.traffic = traffic,
                                     .metrics = metrics,
                                     .store = store,
                                     .notifier = notifier,
                                     .clock = clock});

  controller::StartRequest request;
  request.id = "sim-1";
  request.endpoint = kEndpoint;
  request.canary_variant = kCanary;
  request.policy = policy;
  request.actor = "simulator";
  auto started = controller.StartDeployment(request);
  if (!started) return std::unexpected(started.error().WithContext(scenario.source));

  double minute = 0;
  for (std::int64_t k = 1;; ++k) {
    const core::Timestamp at = epoch + policy.interval * k;
    if (core::ToMinutes(at - epoch) > scenario.duration_minutes + 1e-9) break;
    clock.Set(at);
    minute = core::ToMinutes(at - epoch);
    auto ticked = controller.Tick();
    if (!ticked) return std::unexpected(ticked.error());
    auto d = store.Get(request.id);
    if (!d) return std::unexpected(d.error());
    if (core::IsTerminal(d->state) || d->paused) break;
    if (scenario.approve_at_minute && minute + 1e-9 >= *scenario.approve_at_minute &&
        d->progress.awaiting_approval) {
      auto approved = controller.Approve(request.id, "simulated operator");
      if (!approved) return std::unexpected(approved.error());
      if (core::IsTerminal(approved->state)) break;
    }
  }

  auto d = store.Get(request.id);
  if (!d) return std::unexpected(d.error());
  auto events = store.ListEvents(request.id, 0);
  if (!events) return std::unexpected(events.error());

  SimulationResult result;
  result.final_state = d->state;
  result.final_canary_weight = d->canary_weight;
  result.paused = d->paused;
  result.end_minute = minute;
  result.notifications = notifier.count();
  for (const core::DeploymentEvent& e : *events) {
    const double at = core::ToMinutes(e.time - epoch);
    if (e.kind == core::EventKind::kCheck || e.kind == core::EventKind::kError) {
      result.checks.push_back({at, e.weight_before, e.check, e.reason});
      continue;
    }
    result.events.push_back(
        {at, e.to_state, e.weight_after, e.reason, e.kind, e.kind == core::EventKind::kPaused});
  }
  return result;
}

std::string FormatJson(const SimulationResult& result) {
  util::JsonWriter w(2);
  w.BeginObject();
  w.Key("final_state").String(core::StateName(result.final_state));
  w.Key("final_canary_weight").Number(result.final_canary_weight);
  w.Key("paused").Bool(result.paused);
  w.Key("end_minute").Number(result.end_minute);
  w.Key("checks").Int(static_cast<std::int64_t>(result.checks.size()));
  w.Key("events").BeginArray();
  for (const SimulationEvent& e : result.events) {
    w.BeginObject();
    w.Key("minute").Number(e.minute);
    w.Key("state").String(core::StateName(e.state));
    w.Key("canary_weight").Number(e.canary_weight);
    w.Key("reason").String(e.reason);
    w.Key("kind").String(core::EventKindName(e.kind));
    if (e.paused) w.Key("paused").Bool(true);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return w.Release() + "\n";
}

namespace {

std::string Bar(double weight, int width) {
  const int filled = static_cast<int>(std::lround(weight * width));
  std::string out;
  for (int i = 0; i < width; ++i) out += i < filled ? "\u2588" : "\u00b7";
  return out;
}

std::string Minute(double m) {
  char buf[32];
  if (std::fabs(m - std::round(m)) < 1e-9) {
    std::snprintf(buf, sizeof(buf), "%6.0f", m);
  } else {
    std::snprintf(buf, sizeof(buf), "%6.2f", m);
  }
  return buf;
}

const char* Paint(bool color, const char* code) { return color ? code : ""; }

// The scenario's line (traffic, check cadence, thresholds) and the table's head.
std::string TimelineHead(const Scenario& scenario, bool color) {
  const core::Policy& p = scenario.policy;
  const char* reset = Paint(color, "\033[0m");
  const char* bold = Paint(color, "\033[1m");
  std::string out;
  char line[512];
  std::snprintf(line, sizeof(line),
                "%s%s%s: %.0f invocations/min; checks every %s, bake %s; p99 < %gms, errors < "
                "%g%%, ratio < %gx, diff < %g points\n\n",
                bold, scenario.source.c_str(), reset, scenario.traffic_per_minute,
                core::FormatDuration(p.interval).c_str(), core::FormatDuration(p.bake).c_str(),
                p.max_p99_ms, p.max_error_rate * 100, p.max_latency_ratio,
                p.max_error_rate_diff * 100);
  out += line;
  std::snprintf(line, sizeof(line), "%s%6s  %-20s %5s  %11s %7s  %11s %7s  %s%s\n", bold, "minute",
                "canary weight", "", "prod p99", "err", "canary p99", "err", "verdict", reset);
  out += line;
  return out;
}

// One event: "--> STATE: reason", red for a rollback, failure or pause, green
// for completion.
std::string EventLine(const SimulationEvent& e, bool color) {
  const char* tint = Paint(color, "\033[36m");
  if (e.state == core::DeploymentState::kRolledBack ||
      e.state == core::DeploymentState::kRollingBack || e.state == core::DeploymentState::kFailed ||
      e.paused) {
    tint = Paint(color, "\033[31m");
  } else if (e.state == core::DeploymentState::kCompleted) {
    tint = Paint(color, "\033[32m");
  }
  char line[512];
  std::snprintf(line, sizeof(line), "%s%s  %s %4.0f%%  %s> %s%s: %s\n", tint,
                Minute(e.minute).c_str(), Bar(e.canary_weight, 20).c_str(), e.canary_weight * 100,
                "--", std::string(core::StateName(e.state)).c_str(), e.paused ? " (paused)" : "",
                e.reason.c_str());
  return std::string(line) + Paint(color, "\033[0m");
}

// One check: both variants' p99 and error rate and the verdict (and the ML
// checks' values when the policy asks for them, issue 14), or why it failed.
std::string CheckLine(const SimulationCheck& c, bool color) {
  char line[512];
  if (!c.report) {
    std::snprintf(line, sizeof(line), "%s  %s %4.0f%%  check failed: %s\n",
                  Minute(c.minute).c_str(), Bar(c.canary_weight, 20).c_str(), c.canary_weight * 100,
                  c.reason.c_str());
    return line;
  }
  const core::HealthReport& r = *c.report;
  const char* tint = Paint(color, "\033[32m");
  if (r.verdict == core::Verdict::kInconclusive) tint = Paint(color, "\033[33m");
  if (r.breached()) tint = Paint(color, "\033[31m");
  std::snprintf(line, sizeof(line), "%s  %s %4.0f%%  %9.1fms %6.2f%%  %9.1fms %6.2f%%  %s%s%s\n",
                Minute(c.minute).c_str(), Bar(c.canary_weight, 20).c_str(), c.canary_weight * 100,
                r.production.p99_ms, r.production_error_rate * 100, r.canary.p99_ms,
                r.canary_error_rate * 100, tint, std::string(core::VerdictName(r.verdict)).c_str(),
                Paint(color, "\033[0m"));
  std::string extra;
  char part[96];
  if (r.latency_test) {
    std::snprintf(part, sizeof(part), "  Mann-Whitney p %.3g, p50 x%.2f", r.latency_test->test.p,
                  r.latency_test->effect);
    extra += part;
  }
  if (r.psi) {
    std::snprintf(part, sizeof(part), "  PSI %.3f", *r.psi);
    extra += part;
  }
  if (!extra.empty() && std::string_view(line).ends_with('\n')) {
    std::string with(line, std::strlen(line) - 1);
    with += extra + "\n";
    std::snprintf(line, sizeof(line), "%s", with.c_str());
  }
  return line;
}

// "final: STATE at N% canary after M minutes, K checks".
std::string FinalLine(const SimulationResult& result, bool color) {
  char line[512];
  std::snprintf(
      line, sizeof(line), "\n%sfinal: %s%s at %.0f%% canary after %s minutes, %zu checks%s\n",
      Paint(color, "\033[1m"), std::string(core::StateName(result.final_state)).c_str(),
      result.paused ? " (paused)" : "", result.final_canary_weight * 100,
      Minute(result.end_minute).c_str() + std::strspn(Minute(result.end_minute).c_str(), " "),
      result.checks.size(), Paint(color, "\033[0m"));
  return line;
}

}  // namespace

std::string FormatTimeline(const SimulationResult& result, const Scenario& scenario, bool color) {
  std::string out = TimelineHead(scenario, color);
  // Each check in order, with the events up to its minute before it.
  std::size_t next_event = 0;
  auto events_until = [&](double minute) {
    while (next_event < result.events.size() && result.events[next_event].minute <= minute + 1e-9) {
      out += EventLine(result.events[next_event++], color);
    }
  };
  for (const SimulationCheck& c : result.checks) {
    events_until(c.minute - 1e-6);
    out += CheckLine(c, color);
  }
  events_until(1e18);
  out += FinalLine(result, color);
  return out;
}

}  // namespace mlcanary::sim
