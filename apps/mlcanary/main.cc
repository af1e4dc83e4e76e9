// The mlcanary binary: parses the command line and runs one command.
#include <CLI/CLI.hpp>
#include <iostream>

#include "client_commands.h"
#include "demo_command.h"
#include "serve_command.h"
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

  mlcanary::app::DemoOptions demo;
  CLI::App* demo_cmd = app.add_subcommand(
      "demo", "the quickstart: live rollouts of example models (good, broken, slow)");
  demo_cmd->add_option("--models", demo.models_dir,
                       "directory with recs-v1.json .. recs-v4.json (default: examples/models)");
  demo_cmd->add_flag("--fast", demo.fast, "shorter bake and pauses (tests)");
  demo_cmd->add_flag("--keep", demo.keep, "keep the temporary data directory");

  mlcanary::app::ServeOptions serve;
  CLI::App* serve_cmd =
      app.add_subcommand("serve", "run the gateway, the control API and the controller");
  serve_cmd->add_option("--config,-c", serve.config_path, "configuration YAML file")->required();

  // Client verbs: MLCANARY_URL (default http://127.0.0.1:8081), MLCANARY_API_TOKEN.
  mlcanary::app::ClientCommand client;
  std::vector<CLI::App*> client_cmds;
  auto add_output = [&](CLI::App* cmd) {
    cmd->add_option("--output,-o", client.output, "text (default) or json")
        ->check(CLI::IsMember({"text", "json"}));
  };
  CLI::App* list_cmd = app.add_subcommand("list", "list deployments");
  list_cmd->add_option("--endpoint", client.endpoint, "only this endpoint");
  list_cmd->add_option("--state", client.state, "only this state (e.g. IN_PROGRESS)");
  add_output(list_cmd);
  client_cmds.push_back(list_cmd);
  for (const auto& [verb, help] : std::vector<std::pair<std::string, std::string>>{
           {"status", "show one deployment"},
           {"events", "show a deployment's checks and transitions"},
           {"complete", "shift all traffic to the canary now and complete"},
           {"cancel", "cancel: canary to 0% and removed"},
           {"rollback", "roll back now: production to 100%"},
           {"pause", "pause the rollout (checks stop)"},
           {"resume", "resume a paused rollout (the bake restarts)"}}) {
    CLI::App* cmd = app.add_subcommand(verb, help);
    cmd->add_option("id", client.id, "deployment id")->required();
    add_output(cmd);
    client_cmds.push_back(cmd);
  }
  CLI::App* deploy_cmd = app.add_subcommand("deploy", "start a canary deployment");
  deploy_cmd->add_option("--endpoint,-e", client.endpoint, "endpoint")->required();
  deploy_cmd->add_option("--model-kind", client.model_kind, "xgboost (default), http or sagemaker")
      ->check(CLI::IsMember({"xgboost", "http", "sagemaker"}));
  deploy_cmd->add_option("--model-path,-m", client.model_path, "model file (xgboost)");
  deploy_cmd->add_option("--model-url", client.model_url, "model server URL (http)");
  deploy_cmd->add_option("--model-timeout", client.model_timeout, "per-request timeout (http)");
  deploy_cmd->add_option("--model-name", client.model_name, "SageMaker model name (sagemaker)");
  deploy_cmd->add_option("--instance-type", client.instance_type,
                         "ml.* instance type (sagemaker; default: production's)");
  deploy_cmd->add_option("--variant", client.variant, "canary variant name");
  deploy_cmd->add_option("--instances", client.instances, "canary instances")
      ->check(CLI::Range(1, 64));
  deploy_cmd->add_option("--policy,-p", client.policy,
                         "policy override KEY=VALUE (repeatable), e.g. bake=2m steps=0.1,0.5,1");
  deploy_cmd->add_flag("--keep-previous", client.keep_previous,
                       "keep the old production variant after COMPLETED");
  deploy_cmd->add_flag("--wait,-w", client.wait,
                       "follow the rollout to its end; exit 0 only for COMPLETED");
  add_output(deploy_cmd);
  client_cmds.push_back(deploy_cmd);

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
