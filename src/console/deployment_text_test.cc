// The CLI's texts, from fixed deployments and events: the columns and words
// that `list`, `status`, `events` and `deploy --wait` print.
#include "console/deployment_text.h"

#include <gtest/gtest.h>

#include "console/testing_samples.h"

namespace mlcanary::console {
namespace {

using testing::SampleCheck;
using testing::SampleDeployment;
using testing::SampleTransition;

const std::string kBar30 =
    "\u2588\u2588\u2588\u2588\u2588\u2588\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7"
    "\u00b7\u00b7\u00b7\u00b7\u00b7";
const std::string kBar0 =
    "\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7"
    "\u00b7\u00b7\u00b7\u00b7\u00b7";

TEST(DeploymentTextTest, ListRows) {
  EXPECT_EQ(DeploymentListHeader(),
            "ID                       ENDPOINT     STATE         CANARY         WEIGHT          "
            "           \n");
  // The bar's 20 cells are 3-byte characters: %-22s pads nothing.
  EXPECT_EQ(DeploymentRow(SampleDeployment()),
            "dep-00000000000000ab     recs         IN_PROGRESS   recs-v2        " + kBar30 +
                "  30%  paused\n");
}

TEST(DeploymentTextTest, StatusDetails) {
  EXPECT_EQ(DeploymentDetails(SampleDeployment()),
            "deployment   dep-00000000000000ab\n"
            "endpoint     recs (recs-v1 -> recs-v2)\n"
            "state        IN_PROGRESS (paused)\n"
            "canary       " +
                kBar30 +
                " 30%\n"
                "created      2026-11-28T00:00:00Z\n"
                "updated      2026-11-28T00:01:15Z\n");
}

TEST(DeploymentTextTest, ADeploymentInShadowSaysSo) {
  core::Deployment d = SampleDeployment();
  d.paused = false;
  d.canary_weight = 0;
  d.phase = core::RolloutPhase::kShadow;
  EXPECT_NE(DeploymentDetails(d).find(
                "state        IN_PROGRESS (shadow: the canary answers copies, weight 0)\n"),
            std::string::npos)
      << DeploymentDetails(d);
  EXPECT_TRUE(DeploymentRow(d).ends_with("shadow\n")) << DeploymentRow(d);
}

TEST(DeploymentTextTest, EventRowsWithAndWithoutACheck) {
  EXPECT_EQ(EventRow(SampleCheck()),
            "  12 2026-11-28T00:01:30Z     check         IN_PROGRESS   30%  canary p99  130.0ms "
            "err  0.50% | prod p99   40.2ms err  0.00% | latency_breached  latency breach 1/3\n");
  EXPECT_EQ(EventRow(SampleTransition()),
            "  13 2026-11-28T00:01:31Z     transition    ROLLING_BACK   0%  rollback: latency "
            "breached on 3 consecutive checks\n");
}

TEST(DeploymentTextTest, DeployAndWaitLines) {
  core::Deployment d = SampleDeployment();
  d.canary_weight = 0.1;
  EXPECT_EQ(DeploymentStarted(d),
            "deployment dep-00000000000000ab started: recs-v1 -> recs-v2 on recs at 10%\n");
  d.state = core::DeploymentState::kPending;
  EXPECT_EQ(DeploymentStarted(d),
            "deployment dep-00000000000000ab started: recs-v1 -> recs-v2 on recs at 10% "
            "(PENDING: the canary is being readied)\n");
  EXPECT_EQ(WaitEventLine(SampleCheck()), "2026-11-28T00:01:30Z  " + kBar30 +
                                              "  30%  canary p99  130.0ms err  0.50% | prod "
                                              "p99   40.2ms err  0.00% | latency_breached\n");
  EXPECT_EQ(WaitEventLine(SampleTransition()),
            "2026-11-28T00:01:31Z  " + kBar0 +
                "   0%  --> ROLLING_BACK: rollback: latency breached on 3 consecutive checks\n");
  d.state = core::DeploymentState::kRolledBack;
  EXPECT_EQ(WaitFinalLine(d), "final: ROLLED_BACK\n");
}

}  // namespace
}  // namespace mlcanary::console
