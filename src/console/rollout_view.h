// The demo's live view of rollouts: a timeline line per event (checks with both
// variants' values and the verdict, transitions and weight steps), the traffic
// status line, each rollout's header and end, and the summary table.
#ifndef MLCANARY_CONSOLE_ROLLOUT_VIEW_H_
#define MLCANARY_CONSOLE_ROLLOUT_VIEW_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "console/style.h"
#include "core/policy.h"
#include "core/time.h"
#include "core/types.h"
#include "loadgen/load_generator.h"

namespace mlcanary::console {

// COMPLETED green; ROLLED_BACK, ROLLING_BACK, FAILED red; any other text yellow.
std::string StateText(const Style& style, std::string_view state);
// "latency_breached" -> "latency breached", healthy green, inconclusive yellow, else red.
std::string VerdictText(const Style& style, core::Verdict verdict);

// The column titles of the check lines.
std::string CheckHeader(const Style& style);
// One event: its time since `start` ("+2.0s"), the weight bar and percentage,
// then a check's values and verdict, or what changed and why.
std::string TimelineLine(const Style& style, const core::DeploymentEvent& e,
                         const std::optional<core::Timestamp>& start);
// "   traffic  400 req/s │ recs-v1: 3120 ok │ recs-v3: 12 ok 340 4xx │" over the
// answers since `base`.
std::string TrafficLine(const loadgen::LoadSnapshot& now, const loadgen::LoadSnapshot& base,
                        double rate);
// "  traffic: 36000 requests answered — recs-v1 30000 (0 errors), ...".
std::string TrafficTotals(const loadgen::LoadSnapshot& traffic);
// The policy in two lines: steps, bake, rollback rules.
std::vector<std::string> PolicyLines(const core::Policy& policy);

// How one rollout of the demo ended.
struct RolloutResult {
  std::string id;  // "" when the deployment was refused
  std::string model_file;
  std::string expected;     // final state expected
  std::string final_state;  // "" when it never ended; "... (forced)" when rolled back by time
  double seconds = 0;
  int checks = 0;
  std::string reason;
  bool as_expected() const { return final_state == expected; }
};

// "━━ 1/3  deploy recs-v2.ubj — story  (expected: COMPLETED)".
std::string RolloutTitle(const Style& style, int index, int total, std::string_view model_file,
                         std::string_view story, std::string_view expected);
// "   deployment ID: production → canary, canary starts at 10%".
std::string RolloutStarted(const core::Deployment& d);
// "   ✔ ID in 12.3s after 14 checks — COMPLETED".
std::string RolloutEnded(const Style& style, const RolloutResult& r);
// "Summary", the column titles and one row per rollout.
std::vector<std::string> SummaryTable(const Style& style, const std::vector<RolloutResult>& rs);

}  // namespace mlcanary::console

#endif  // MLCANARY_CONSOLE_ROLLOUT_VIEW_H_
