// The CLI's client verbs (API.md "Command line"): deploy, list, status, events,
// complete, cancel, rollback, pause, resume — against a running `mlcanary serve`.
#ifndef MLCANARY_APPS_MLCANARY_CLIENT_COMMANDS_H_
#define MLCANARY_APPS_MLCANARY_CLIENT_COMMANDS_H_

#include <cstddef>
#include <string>
#include <vector>

namespace mlcanary::app {

struct ClientCommand {
  std::string verb;  // list, status, events, complete, cancel, rollback, pause, resume, deploy
  std::string id;
  std::string output = "text";  // or "json"
  // list
  std::string endpoint;
  std::string state;
  std::string since;  // a duration back from now (24h) or an RFC 3339 time
  std::string until;
  std::size_t limit = 0;  // at most this many (0: all)
  // deploy
  std::string model_kind = "xgboost";
  std::string model_path;
  std::string model_url;
  std::string model_timeout;
  std::string model_name;     // sagemaker: the SageMaker model
  std::string instance_type;  // sagemaker: ml.* (default: the production variant's)
  std::string variant;
  int instances = 1;
  std::vector<std::string> policy;  // key=value
  bool keep_previous = false;
  bool wait = false;
};

// Returns the exit status: 0 on success (for deploy --wait: only COMPLETED),
// 2 for invalid arguments, 1 otherwise; errors are one line on stderr.
int RunClientCommand(const ClientCommand& command);

}  // namespace mlcanary::app

#endif  // MLCANARY_APPS_MLCANARY_CLIENT_COMMANDS_H_
