// Client verbs: a typed call of the control API (client/), then its text
// (console/) or the server's JSON as is.
#include "client_commands.h"

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>
#include <tuple>

#include "client/api_client.h"
#include "client/deployment_follower.h"
#include "client/deployment_request.h"
#include "console/deployment_text.h"

namespace mlcanary::app {
namespace {

int Fail(const core::Error& e) {
  std::cerr << "mlcanary: " << e.message() << "\n";
  return e.code() == core::ErrorCode::kValidation ? 2 : 1;
}

void Print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void PrintJson(const boost::json::value& v) { Print(boost::json::serialize(v) + "\n"); }

// Prints the answer's JSON (--output json) or its text.
template <typename T, typename Text>
int Show(const core::Result<client::Answer<T>>& answer, bool json_output, Text text) {
  if (!answer) return Fail(answer.error());
  if (json_output) {
    PrintJson(answer->json);
  } else {
    Print(text(answer->value));
  }
  return 0;
}

template <typename T, typename Row>
std::string Rows(const std::vector<client::Answer<T>>& items, Row row) {
  std::string out;
  for (const auto& item : items) out += row(item.value);
  return out;
}

// Every deployment the flags pick, up to --limit, page after page.
int List(client::ApiClient& api, const ClientCommand& cmd, bool json_output) {
  client::DeploymentFilter filter{.endpoint = cmd.endpoint, .state = cmd.state};
  const auto now = std::chrono::time_point_cast<core::Duration>(std::chrono::system_clock::now());
  for (const auto& [flag, text, out] : {std::tuple{"--since", &cmd.since, &filter.since},
                                        std::tuple{"--until", &cmd.until, &filter.until}}) {
    if (text->empty()) continue;
    auto t = client::ParseListTime(flag, *text, now);
    if (!t) return Fail(t.error());
    *out = *t;
  }
  if (filter.since && filter.until && *filter.since >= *filter.until) {
    return Fail(core::Error(core::ErrorCode::kValidation, "--since: must be before --until"));
  }
  return Show(api.ListAllDeployments(filter, cmd.limit), json_output, [](const auto& list) {
    return console::DeploymentListHeader() + Rows(list, console::DeploymentRow);
  });
}

// Follows the deployment to its final state: exit 0 only for COMPLETED.
int Wait(client::ApiClient& api, const std::string& id, bool json_output) {
  client::DeploymentFollower follower(api, id);
  for (;;) {
    auto round = follower.Next();
    if (!round) return Fail(round.error());
    for (const auto& e : round->events) {
      json_output ? PrintJson(e.json) : Print(console::WaitEventLine(e.value));
    }
    if (round->final()) {
      if (!json_output) Print(console::WaitFinalLine(round->deployment));
      return round->deployment.state == core::DeploymentState::kCompleted ? 0 : 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

client::DeploymentRequest RequestOf(const ClientCommand& cmd) {
  return {.endpoint = cmd.endpoint,
          .model_kind = cmd.model_kind,
          .model_path = cmd.model_path,
          .model_url = cmd.model_url,
          .model_timeout = cmd.model_timeout,
          .model_name = cmd.model_name,
          .instance_type = cmd.instance_type,
          .variant = cmd.variant,
          .instances = cmd.instances,
          .keep_previous = cmd.keep_previous,
          .policy = {}};
}

int Deploy(client::ApiClient& api, const ClientCommand& cmd, bool json_output) {
  client::DeploymentRequest request = RequestOf(cmd);
  if (auto s = client::CheckModelFlags(request); !s) return Fail(s.error());
  auto policy = client::PolicyFromPairs(cmd.policy);
  if (!policy) return Fail(policy.error());
  request.policy = std::move(*policy);
  auto created = api.CreateDeployment(request);
  if (!created || !cmd.wait) return Show(created, json_output, console::DeploymentStarted);
  if (!json_output) Print(console::DeploymentStarted(created->value));
  return Wait(api, created->value.id, json_output);
}

bool IsAction(const std::string& verb) {
  return verb == "complete" || verb == "cancel" || verb == "rollback" || verb == "pause" ||
         verb == "resume" || verb == "approve";
}

}  // namespace

int RunClientCommand(const ClientCommand& cmd) {
  client::ApiClient api(client::OptionsFromEnvironment());
  const bool json_output = cmd.output == "json";
  const std::string& v = cmd.verb;
  if (v == "list") return List(api, cmd, json_output);
  if (v == "status")
    return Show(api.GetDeployment(cmd.id), json_output, console::DeploymentDetails);
  if (v == "events") {
    return Show(api.ListEvents(cmd.id), json_output,
                [](const auto& events) { return Rows(events, console::EventRow); });
  }
  if (IsAction(v)) return Show(api.Act(cmd.id, v), json_output, console::DeploymentRow);
  if (v == "deploy") return Deploy(api, cmd, json_output);
  std::cerr << "mlcanary: unknown command '" << v << "'\n";
  return 2;
}

}  // namespace mlcanary::app
