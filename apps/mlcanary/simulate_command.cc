// Runs a scenario through the simulator and prints the outcome.
#include "simulate_command.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "sim/simulator.h"

namespace mlcanary::app {

int RunSimulate(const SimulateOptions& options) {
  auto scenario = sim::LoadScenarioFile(options.scenario_path);
  if (!scenario) {
    std::cerr << "mlcanary simulate: " << scenario.error().message() << "\n";
    return scenario.error().code() == core::ErrorCode::kValidation ||
                   scenario.error().code() == core::ErrorCode::kNotFound
               ? 2
               : 1;
  }
  auto result = sim::Simulate(*scenario);
  if (!result) {
    std::cerr << "mlcanary simulate: " << result.error().message() << "\n";
    return result.error().code() == core::ErrorCode::kValidation ? 2 : 1;
  }
  if (options.output == "json") {
    std::cout << sim::FormatJson(*result);
  } else {
    std::cout << sim::FormatTimeline(*result, *scenario, isatty(STDOUT_FILENO) != 0);
  }
  std::cout.flush();
  return std::cout.good() ? 0 : 1;
}

}  // namespace mlcanary::app
