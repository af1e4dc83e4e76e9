// The demo's live view, from fixed events, traffic and outcomes: plain (as the
// demo's test and a pipe see it) and in colour.
#include "console/rollout_view.h"

#include <gtest/gtest.h>

#include "console/testing_samples.h"

namespace mlcanary::console {
namespace {

using testing::At;
using testing::SampleCheck;
using testing::SampleTransition;

const Style kPlain(false);
const Style kColour(true);
const std::string kBar0 =
    "\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7"
    "\u00b7\u00b7\u00b7\u00b7\u00b7";
const std::string kBar30 =
    "\u2588\u2588\u2588\u2588\u2588\u2588\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7"
    "\u00b7\u00b7\u00b7\u00b7\u00b7";

TEST(RolloutViewTest, CheckLineHasBothVariantsAndTheVerdict) {
  EXPECT_EQ(TimelineLine(kPlain, SampleCheck(), At(0)),
            "    +90.0s  " + kBar30 +
                "  30% \u2502   130.00ms   0.50%   600 \u2502    40.25ms   0.00%  1400 \u2502 "
                "latency breached  canary p99 130.0ms >= max_p99_ms 100");
  EXPECT_EQ(TimelineLine(kColour, SampleCheck(), std::nullopt),
            "            " + kBar30 +
                "  30% \u2502   130.00ms   0.50%   600 \u2502    40.25ms   0.00%  1400 \u2502 "
                "\033[31mlatency breached\033[0m\033[2m  canary p99 130.0ms >= max_p99_ms "
                "100\033[0m");
}

TEST(RolloutViewTest, TransitionLineShowsStatesWeightAndReason) {
  EXPECT_EQ(TimelineLine(kPlain, SampleTransition(), At(90)),
            "     +1.0s  " + kBar0 +
                "   0% \u25b8 IN_PROGRESS \u2192 ROLLING_BACK  (weight 30% \u2192 0%): rollback: "
                "latency breached on 3 consecutive checks");
  core::DeploymentEvent e = SampleTransition();
  e.kind = core::EventKind::kWeightChange;
  e.from_state = e.to_state = core::DeploymentState::kInProgress;
  e.weight_before = 0.1;
  e.weight_after = 0.3;
  e.reason = "healthy";
  EXPECT_EQ(TimelineLine(kColour, e, std::nullopt),
            "            " + kBar30 +
                "  30% \u25b8 \033[1m\033[36mweight 10% \u2192 30%\033[0m\033[0m: healthy");
}

TEST(RolloutViewTest, StatesAndVerdictsInTheirColours) {
  EXPECT_EQ(StateText(kColour, "COMPLETED"), "\033[32mCOMPLETED\033[0m");
  EXPECT_EQ(StateText(kColour, "ROLLING_BACK"), "\033[31mROLLING_BACK\033[0m");
  EXPECT_EQ(StateText(kColour, "UNFINISHED"), "\033[33mUNFINISHED\033[0m");
  EXPECT_EQ(VerdictText(kPlain, core::Verdict::kErrorBreached), "error breached");
  EXPECT_EQ(VerdictText(kColour, core::Verdict::kHealthy), "\033[32mhealthy\033[0m");
}

TEST(RolloutViewTest, HeaderAndPolicy) {
  EXPECT_EQ(CheckHeader(kPlain),
            "      time  canary weight             \u2502 canary p99  errors     n \u2502   prod "
            "p99  errors     n \u2502 verdict");
  core::Policy p;
  p.steps = {0.10, 0.30, 0.60, 1.0};
  p.interval = std::chrono::seconds(1);
  p.bake = std::chrono::seconds(2);
  p.min_invocations = 20;
  p.latency_ratio_min_p99_ms = 3;
  const std::vector<std::string> lines = PolicyLines(p);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0],
            "   policy     steps 10% \u2192 30% \u2192 60% \u2192 100%, a check every 1s, 2s "
            "healthy at each step, >= 20 canary requests per check;");
  EXPECT_EQ(lines[1],
            "              rollback after 2 error-breached checks in a row (error rate >= 1%) or 3 "
            "latency-breached (p99 >= 100ms, or >= 3ms and >= 2\u00d7 production)");
}

TEST(RolloutViewTest, TrafficSinceTheBase) {
  loadgen::LoadSnapshot base;
  base.variants["recs-v1"].by_status[200] = 100;
  loadgen::LoadSnapshot now = base;
  now.variants["recs-v1"].by_status[200] = 400;
  now.variants["recs-v3"].by_status[200] = 12;
  now.variants["recs-v3"].by_status[400] = 340;
  now.variants[""].by_status[503] = 2;
  now.answers = 754;
  now.transport_errors = 3;
  EXPECT_EQ(TrafficLine(now, base, 400.4),
            "   traffic  400 req/s \u2502 ?: 0 ok 2 5xx \u2502 recs-v1: 300 ok \u2502 recs-v3: 12 "
            "ok 340 4xx \u2502 3 connection errors");
  EXPECT_EQ(TrafficTotals(now),
            "  traffic: 754 requests answered \u2014 ? 2 (2 errors), recs-v1 400 (0 errors), "
            "recs-v3 352 (340 errors); 3 connection errors");
}

TEST(RolloutViewTest, RolloutLinesAndSummary) {
  EXPECT_EQ(RolloutTitle(kPlain, 1, 3, "recs-v2.ubj", "retrained", "COMPLETED"),
            "\u2501\u2501 1/3  deploy recs-v2.ubj \u2014 retrained  (expected: COMPLETED)");
  EXPECT_EQ(RolloutStarted(testing::SampleDeployment()),
            "   deployment dep-00000000000000ab: recs-v1 \u2192 recs-v2, canary starts at 30%");
  const RolloutResult ok{.id = "dep-1",
                         .model_file = "recs-v2.ubj",
                         .expected = "COMPLETED",
                         .final_state = "COMPLETED",
                         .seconds = 12.34,
                         .checks = 14,
                         .reason = "healthy at 100%"};
  const RolloutResult stuck{.model_file = "recs-v4.json",
                            .expected = "ROLLED_BACK",
                            .seconds = 90,
                            .reason = "deploy refused: busy"};
  EXPECT_EQ(RolloutEnded(kPlain, ok), "   \u2714 dep-1 in 12.3s after 14 checks \u2014 COMPLETED");
  EXPECT_EQ(RolloutEnded(kColour, stuck),
            "   \u2718  in 90.0s after 0 checks \u2014 \033[33mUNFINISHED\033[0m\033[31m (expected "
            "ROLLED_BACK)\033[0m");
  EXPECT_EQ(SummaryTable(kPlain, {ok, stuck}),
            (std::vector<std::string>{
                "", "Summary",
                "  DEPLOYMENT             MODEL         FINAL STATE       TIME  CHECKS  REASON",
                "  dep-1                  recs-v2.ubj   COMPLETED        12.3s      14  healthy at "
                "100%",
                "  -                      recs-v4.json  UNFINISHED       90.0s       0  deploy "
                "refused: busy [expected ROLLED_BACK]"}));
}

}  // namespace
}  // namespace mlcanary::console
