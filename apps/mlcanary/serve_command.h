// `mlcanary serve --config FILE`: the gateway (inference port), the control API
// and /metrics (control port) and the controller, in one process.
#ifndef MLCANARY_APPS_MLCANARY_SERVE_COMMAND_H_
#define MLCANARY_APPS_MLCANARY_SERVE_COMMAND_H_

#include <string>

namespace mlcanary::app {

struct ServeOptions {
  std::string config_path;
};

// Runs until SIGINT or SIGTERM. Returns the exit status: 0 after a clean
// shutdown, 2 for an invalid config or environment, 1 when a component fails.
int RunServe(const ServeOptions& options);

}  // namespace mlcanary::app

#endif  // MLCANARY_APPS_MLCANARY_SERVE_COMMAND_H_
