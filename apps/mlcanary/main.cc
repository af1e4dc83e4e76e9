// The mlcanary binary: parses the command line and runs one command.
#include <CLI/CLI.hpp>
#include <iostream>

#include "simulate_command.h"

int main(int argc, char** argv) {
  CLI::App app{"mlcanary: zero-downtime canary rollouts of ML models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("mlcanary 0.1.0"));

  mlcanary::app::SimulateOptions simulate;
  CLI::App* simulate_cmd = app.add_subcommand("simulate", "run a rollout scenario in virtual time");
  simulate_cmd->add_option("scenario", simulate.scenario_path, "scenario YAML file")->required();
  simulate_cmd->add_option("--output,-o", simulate.output, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "mlcanary: " << e.what() << " (see mlcanary --help)\n";
    return 2;
  }

  if (simulate_cmd->parsed()) return mlcanary::app::RunSimulate(simulate);
  return 2;
}
