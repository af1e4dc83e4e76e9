// `mlcanary simulate SCENARIO.yaml [--output json]`.
#ifndef MLCANARY_APPS_MLCANARY_SIMULATE_COMMAND_H_
#define MLCANARY_APPS_MLCANARY_SIMULATE_COMMAND_H_

#include <string>

namespace mlcanary::app {

struct SimulateOptions {
  std::string scenario_path;
  std::string output = "text";  // "text" or "json"
};

// Returns the process exit status: 0 on success, 2 for an invalid scenario, 1 otherwise.
int RunSimulate(const SimulateOptions& options);

}  // namespace mlcanary::app

#endif  // MLCANARY_APPS_MLCANARY_SIMULATE_COMMAND_H_
