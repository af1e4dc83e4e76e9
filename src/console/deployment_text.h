// The CLI's plain-text views of deployments and events (`list`, `status`,
// `events`, the actions, `deploy` and `deploy --wait`). Each returns whole lines,
// newline included.
#ifndef MLCANARY_CONSOLE_DEPLOYMENT_TEXT_H_
#define MLCANARY_CONSOLE_DEPLOYMENT_TEXT_H_

#include <string>

#include "core/types.h"

namespace mlcanary::console {

// `list`: the header, then one row per deployment (id, endpoint, state,
// canary, weight bar and percentage, "paused").
std::string DeploymentListHeader();
std::string DeploymentRow(const core::Deployment& d);
// `status`: deployment, endpoint (production -> canary), state, canary, times.
std::string DeploymentDetails(const core::Deployment& d);
// One check's values: "canary p99  130.0ms err  0.50% | prod p99 ... | latency_breached".
std::string CheckSummary(const core::HealthReport& check);
// `events`: seq, time, kind, state after, weight after, the check and the reason.
std::string EventRow(const core::DeploymentEvent& e);
// `deploy`: "deployment ID started: production -> canary on ENDPOINT at 10%".
std::string DeploymentStarted(const core::Deployment& d);
// `deploy --wait`: one line per event (a check at its weight, or "--> STATE:
// reason" at the weight after), and the last line.
std::string WaitEventLine(const core::DeploymentEvent& e);
std::string WaitFinalLine(const core::Deployment& d);

}  // namespace mlcanary::console

#endif  // MLCANARY_CONSOLE_DEPLOYMENT_TEXT_H_
