// The mlcanary binary: parses the command line and runs one command.
#include <CLI/CLI.hpp>
#include <iostream>

#include "client_commands.h"
#include "demo_command.h"
#include "serve_command.h"
#include "simulate_command.h"

namespace {

using mlcanary::app::ClientCommand;

CLI::App* AddSimulate(CLI::App& app, mlcanary::app::SimulateOptions& simulate) {
  CLI::App* cmd = app.add_subcommand("simulate", "run a rollout scenario in virtual time");
  cmd->add_option("scenario", simulate.scenario_path, "scenario YAML file")->required();
  cmd->add_option("--output,-o", simulate.output, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  return cmd;
}

CLI::App* AddDemo(CLI::App& app, mlcanary::app::DemoOptions& demo) {
  CLI::App* cmd = app.add_subcommand(
      "demo", "the quickstart: live rollouts of example models (good, broken, slow, divergent)");
  cmd->add_option("--models", demo.models_dir,
                  "directory with recs-v1.json .. recs-v5.ubj (default: examples/models)");
  cmd->add_flag("--fast", demo.fast, "shorter bake and pauses (tests)");
  cmd->add_flag("--keep", demo.keep, "keep the temporary data directory");
  return cmd;
}

CLI::App* AddServe(CLI::App& app, mlcanary::app::ServeOptions& serve) {
  CLI::App* cmd =
      app.add_subcommand("serve", "run the gateway, the control API and the controller");
  cmd->add_option("--config,-c", serve.config_path, "configuration YAML file")->required();
  return cmd;
}

void AddOutput(CLI::App* cmd, ClientCommand& client) {
  cmd->add_option("--output,-o", client.output, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
}

CLI::App* AddDeploy(CLI::App& app, ClientCommand& client) {
  CLI::App* cmd = app.add_subcommand("deploy", "start a canary deployment");
  cmd->add_option("--endpoint,-e", client.endpoint, "endpoint")->required();
  cmd->add_option("--model-kind", client.model_kind, "xgboost (default), http or sagemaker")
      ->check(CLI::IsMember({"xgboost", "http", "sagemaker"}));
  cmd->add_option("--model-path,-m", client.model_path, "model file (xgboost)");
  cmd->add_option("--model-url", client.model_url, "model server URL (http)");
  cmd->add_option("--model-timeout", client.model_timeout, "per-request timeout (http)");
  cmd->add_option("--model-name", client.model_name, "SageMaker model name (sagemaker)");
  cmd->add_option("--instance-type", client.instance_type,
                  "ml.* instance type (sagemaker; default: production's)");
  cmd->add_option("--variant", client.variant, "canary variant name");
  cmd->add_option("--instances", client.instances, "canary instances")->check(CLI::Range(1, 64));
  cmd->add_option("--policy,-p", client.policy,
                  "policy override KEY=VALUE (repeatable), e.g. bake=2m steps=0.1,0.5,1");
  cmd->add_flag("--keep-previous", client.keep_previous,
                "keep the old production variant after COMPLETED");
  cmd->add_flag("--wait,-w", client.wait,
                "follow the rollout to its end; exit 0 only for COMPLETED");
  AddOutput(cmd, client);
  return cmd;
}

// Client verbs: MLCANARY_URL (default http://127.0.0.1:8081), MLCANARY_API_TOKEN.
std::vector<CLI::App*> AddClientVerbs(CLI::App& app, ClientCommand& client) {
  std::vector<CLI::App*> cmds;
  CLI::App* list = app.add_subcommand("list", "list deployments");
  list->add_option("--endpoint", client.endpoint, "only this endpoint");
  list->add_option("--state", client.state, "only this state (e.g. IN_PROGRESS)");
  list->add_option("--since", client.since,
                   "only those created since: a duration back from now (24h) or an RFC 3339 "
                   "UTC time");
  list->add_option("--until", client.until, "only those created before (as --since)");
  list->add_option("--limit", client.limit, "at most this many, newest first")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  AddOutput(list, client);
  cmds.push_back(list);
  for (const auto& [verb, help] : std::vector<std::pair<std::string, std::string>>{
           {"status", "show one deployment"},
           {"events", "show a deployment's checks and transitions"},
           {"complete", "shift all traffic to the canary now and complete"},
           {"cancel", "cancel: canary to 0% and removed"},
           {"rollback", "roll back now: production to 100%"},
           {"pause", "pause the rollout (checks stop)"},
           {"resume", "resume a paused rollout (the bake restarts)"},
           {"approve", "approve the manual gate a rollout waits at: it takes the next step"}}) {
    CLI::App* cmd = app.add_subcommand(verb, help);
    cmd->add_option("id", client.id, "deployment id")->required();
    AddOutput(cmd, client);
    cmds.push_back(cmd);
  }
  cmds.push_back(AddDeploy(app, client));
  return cmds;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mlcanary: zero-downtime canary rollouts of ML models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("mlcanary 0.1.0"));
  mlcanary::app::SimulateOptions simulate;
  mlcanary::app::DemoOptions demo;
  mlcanary::app::ServeOptions serve;
  ClientCommand client;
  CLI::App* simulate_cmd = AddSimulate(app, simulate);
  CLI::App* demo_cmd = AddDemo(app, demo);
  CLI::App* serve_cmd = AddServe(app, serve);
  const std::vector<CLI::App*> client_cmds = AddClientVerbs(app, client);
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
  if (serve_cmd->parsed()) return mlcanary::app::RunServe(serve);
  if (demo_cmd->parsed()) return mlcanary::app::RunDemo(demo);
  for (CLI::App* cmd : client_cmds) {
    if (cmd->parsed()) {
      client.verb = cmd->get_name();
      return mlcanary::app::RunClientCommand(client);
    }
  }
  return 2;
}
