// JSON of the hooks (issue 15): the body POSTed to a hook, and the answer an
// analysis hook gives.
#ifndef MLCANARY_CODEC_HOOK_JSON_H_
#define MLCANARY_CODEC_HOOK_JSON_H_

#include <string>
#include <string_view>

#include "core/error.h"
#include "core/health.h"
#include "core/hooks.h"

namespace mlcanary::codec {

// {"hook": "confirm_step", "deployment": <as the API serves it>,
//  "last_check": <the check (HealthReport) or null>, "metadata": {...}}
std::string HookBodyJson(const core::HookRequest& request);

// An analysis hook's answer: {"verdict": "healthy|breached|inconclusive",
// "reason": "..."} (reason optional; other keys ignored).
struct AnalysisAnswer {
  core::AnalysisVerdict verdict = core::AnalysisVerdict::kInconclusive;
  std::string reason;
};
// A body that is no such object is a ValidationError naming what is wrong
// ("analysis answer: verdict: 'ok' is not healthy, breached or inconclusive").
core::Result<AnalysisAnswer> ParseAnalysisAnswer(std::string_view body);

}  // namespace mlcanary::codec

#endif  // MLCANARY_CODEC_HOOK_JSON_H_
