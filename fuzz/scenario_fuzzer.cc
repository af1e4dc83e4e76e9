// The scenario reader (sim/scenario.h).
//
// Input: a scenario file. Invariants: nothing throws; an accepted scenario
// has a valid policy, traffic in [0, 1e12], a duration in (0, 1e6], and for
// each variant phases that start at minute 0, increase strictly, and hold
// finite latencies >= 0 and error rates in [0, 1]; PhaseAt finds the phase in
// force at every phase's start and at the end.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/policy.h"
#include "fuzz_check.h"
#include "sim/scenario.h"

namespace {

namespace sim = mlcanary::sim;

void CheckPhases(const std::vector<sim::Phase>& phases, double duration, const char* which) {
  FUZZ_CHECK(!phases.empty() && phases.front().from_minute == 0, "%s: first phase", which);
  for (std::size_t i = 0; i < phases.size(); ++i) {
    const sim::Phase& p = phases[i];
    FUZZ_CHECK(std::isfinite(p.from_minute) && p.from_minute >= 0, "%s[%zu] from", which, i);
    if (i > 0) FUZZ_CHECK(p.from_minute > phases[i - 1].from_minute, "%s[%zu] order", which, i);
    FUZZ_CHECK(std::isfinite(p.p99_ms) && p.p99_ms >= 0, "%s[%zu] p99", which, i);
    FUZZ_CHECK(p.error_rate >= 0 && p.error_rate <= 1, "%s[%zu] error rate %g", which, i,
               p.error_rate);
    for (const auto& q : {p.p50_ms, p.p90_ms}) {
      if (q) FUZZ_CHECK(std::isfinite(*q) && *q >= 0, "%s[%zu] quantile", which, i);
    }
    // The phase in force at its own start is itself (or a later one within
    // PhaseAt's 1e-9 tolerance).
    FUZZ_CHECK(sim::PhaseAt(phases, p.from_minute).from_minute >= p.from_minute, "%s[%zu] PhaseAt",
               which, i);
  }
  (void)sim::PhaseAt(phases, duration);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto parsed = sim::ParseScenario(text, "fuzz.yaml");
  if (!parsed) {
    FUZZ_CHECK(parsed.error().message().starts_with("fuzz.yaml"), "error without the file: %s",
               parsed.error().message().c_str());
    return 0;
  }
  const sim::Scenario& s = *parsed;
  const auto valid = mlcanary::core::ValidatePolicy(s.policy);
  FUZZ_CHECK(valid.has_value(), "policy: %s", valid.error().ToString().c_str());
  FUZZ_CHECK(s.traffic_per_minute >= 0 && s.traffic_per_minute <= 1e12, "traffic %g",
             s.traffic_per_minute);
  FUZZ_CHECK(s.duration_minutes > 0 && s.duration_minutes <= 1e6, "duration %g",
             s.duration_minutes);
  CheckPhases(s.production, s.duration_minutes, "production");
  CheckPhases(s.canary, s.duration_minutes, "canary");
  return 0;
}
