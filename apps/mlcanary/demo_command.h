// `mlcanary demo`: the quickstart. Runs the embedded service in-process on a
// temporary data directory, drives steady traffic and shows four live
// rollouts with time compressed: a good model (COMPLETED), a broken one
// (ROLLED_BACK on errors), a slow one (ROLLED_BACK on latency) and one with two
// features swapped (ROLLED_BACK on paired divergence in its shadow phase).
#ifndef MLCANARY_APPS_MLCANARY_DEMO_COMMAND_H_
#define MLCANARY_APPS_MLCANARY_DEMO_COMMAND_H_

#include <string>

namespace mlcanary::app {

struct DemoOptions {
  // Holds recs-v1.json, recs-v2.ubj, recs-v3.json, recs-v4.json, recs-v5.ubj. Empty: the
  // examples/models directory found above the binary or the current directory.
  std::string models_dir;
  bool fast = false;  // shorter bake and pauses (tests)
  bool keep = false;  // keep the temporary data directory (SQLite file, event log)
};

// Returns the exit status: 0 when the four rollouts end as expected
// (COMPLETED, ROLLED_BACK, ROLLED_BACK, ROLLED_BACK with the canary never past
// weight 0), 1 otherwise, 130 on SIGINT. Nothing
// is left running or listening when it returns.
int RunDemo(const DemoOptions& options);

}  // namespace mlcanary::app

#endif  // MLCANARY_APPS_MLCANARY_DEMO_COMMAND_H_
