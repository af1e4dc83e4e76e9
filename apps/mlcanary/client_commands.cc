// Client verbs: talk to the control API, print tables or JSON.
#include "client_commands.h"

#include <unistd.h>

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <thread>

#include "client/api_client.h"
#include "util/json_writer.h"

namespace mlcanary::app {
namespace {

namespace json = boost::json;

std::string Str(const json::value& v, std::string_view key) {
  if (!v.is_object()) return "";
  const json::value* f = v.get_object().if_contains(key);
  if (f == nullptr) return "";
  if (f->is_string()) return std::string(f->get_string());
  if (f->is_bool()) return f->get_bool() ? "true" : "false";
  if (f->is_number()) {
    std::string out;
    util::AppendJsonNumber(out, f->to_number<double>());
    return out;
  }
  return json::serialize(*f);
}

double Num(const json::value& v, std::string_view key) {
  if (!v.is_object()) return 0;
  const json::value* f = v.get_object().if_contains(key);
  return f != nullptr && f->is_number() ? f->to_number<double>() : 0;
}

const json::value& Field(const json::value& v, std::string_view key) {
  static const json::value kNull;
  if (!v.is_object()) return kNull;
  const json::value* f = v.get_object().if_contains(key);
  return f == nullptr ? kNull : *f;
}

std::string Bar(double weight) {
  std::string out;
  const int filled = static_cast<int>(std::lround(weight * 20));
  for (int i = 0; i < 20; ++i) out += i < filled ? "\u2588" : "\u00b7";
  return out;
}

std::string Percent(double w) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%.0f%%", w * 100);
  return buf;
}

int Fail(const core::Error& e) {
  std::cerr << "mlcanary: " << e.message() << "\n";
  return e.code() == core::ErrorCode::kValidation ? 2 : 1;
}

void PrintJson(const json::value& v) { std::cout << json::serialize(v) << "\n"; }

void PrintDeploymentRow(const json::value& d) {
  std::printf("%-24s %-12s %-13s %-14s %-22s %4s  %s\n", Str(d, "id").c_str(),
              Str(d, "endpoint").c_str(), Str(d, "state").c_str(), Str(d, "canary_variant").c_str(),
              Bar(Num(d, "canary_weight")).c_str(), Percent(Num(d, "canary_weight")).c_str(),
              Str(d, "paused") == "true" ? "paused" : "");
}

void PrintDeployment(const json::value& d) {
  std::printf("deployment   %s\n", Str(d, "id").c_str());
  std::printf("endpoint     %s (%s -> %s)\n", Str(d, "endpoint").c_str(),
              Str(d, "production_variant").c_str(), Str(d, "canary_variant").c_str());
  std::printf("state        %s%s\n", Str(d, "state").c_str(),
              Str(d, "paused") == "true" ? " (paused)" : "");
  std::printf("canary       %s %s\n", Bar(Num(d, "canary_weight")).c_str(),
              Percent(Num(d, "canary_weight")).c_str());
  std::printf("created      %s\nupdated      %s\n", Str(d, "created_at").c_str(),
              Str(d, "updated_at").c_str());
}

std::string CheckSummary(const json::value& check) {
  const json::value& c = Field(check, "canary");
  const json::value& p = Field(check, "production");
  char buf[200];
  std::snprintf(buf, sizeof(buf),
                "canary p99 %6.1fms err %5.2f%% | prod p99 %6.1fms err %5.2f%% | %s",
                Num(c, "p99_ms"), Num(c, "error_rate") * 100, Num(p, "p99_ms"),
                Num(p, "error_rate") * 100, Str(check, "verdict").c_str());
  return buf;
}

json::array EventsOf(const json::value& doc) {
  if (doc.is_array()) return doc.get_array();
  const json::value& e = Field(doc, "events");
  return e.is_array() ? e.get_array() : json::array{};
}

void PrintEvent(const json::value& e) {
  std::string detail = Str(e, "reason");
  if (Field(e, "check").is_object()) detail = CheckSummary(Field(e, "check")) + "  " + detail;
  std::printf("%4s %-24s %-13s %-12s %4s  %s\n", Str(e, "seq").c_str(), Str(e, "time").c_str(),
              Str(e, "kind").c_str(), Str(e, "to_state").c_str(),
              Percent(Num(e, "weight_after")).c_str(), detail.c_str());
}

// "bake=2s" -> {"bake": "2s"}; numbers, booleans and comma lists become JSON values.
core::Result<json::object> PolicyFromPairs(const std::vector<std::string>& pairs) {
  json::object policy;
  for (const std::string& pair : pairs) {
    const auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return core::ValidationError("--policy '" + pair + "': expected KEY=VALUE");
    }
    const std::string key = pair.substr(0, eq);
    const std::string value = pair.substr(eq + 1);
    auto number = [](const std::string& s) -> std::optional<double> {
      double d = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
      if (ec == std::errc() && end == s.data() + s.size()) return d;
      return std::nullopt;
    };
    if (key == "steps") {
      json::array steps;
      std::size_t start = 0;
      while (start <= value.size()) {
        const auto comma = value.find(',', start);
        const std::string item = value.substr(start, comma - start);
        auto d = number(item);
        if (!d) return core::ValidationError("--policy steps: '" + item + "' is not a number");
        steps.push_back(*d);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      policy[key] = steps;
    } else if (value == "true" || value == "false") {
      policy[key] = value == "true";
    } else if (auto d = number(value)) {
      if (std::trunc(*d) == *d && value.find('.') == std::string::npos) {
        policy[key] = static_cast<std::int64_t>(*d);
      } else {
        policy[key] = *d;
      }
    } else {
      policy[key] = value;
    }
  }
  return policy;
}

bool Final(const std::string& state) {
  return state == "COMPLETED" || state == "ROLLED_BACK" || state == "FAILED" ||
         state == "CANCELLED";
}

int WaitForDeployment(client::ApiClient& api, const std::string& id, bool json_output) {
  std::int64_t after = 0;
  std::string state;
  for (;;) {
    auto events = api.Call("GET", "/v1/deployments/" + client::PercentEncode(id) +
                                      "/events?after=" + std::to_string(after));
    if (!events) return Fail(events.error());
    for (const json::value& e : EventsOf(*events)) {
      after = std::max<std::int64_t>(after, static_cast<std::int64_t>(Num(e, "seq")));
      if (json_output) {
        PrintJson(e);
      } else if (Field(e, "check").is_object()) {
        std::printf("%s  %s %4s  %s\n", Str(e, "time").c_str(),
                    Bar(Num(e, "weight_before")).c_str(), Percent(Num(e, "weight_before")).c_str(),
                    CheckSummary(Field(e, "check")).c_str());
      } else {
        std::printf("%s  %s %4s  --> %s: %s\n", Str(e, "time").c_str(),
                    Bar(Num(e, "weight_after")).c_str(), Percent(Num(e, "weight_after")).c_str(),
                    Str(e, "to_state").c_str(), Str(e, "reason").c_str());
      }
      std::fflush(stdout);
    }
    auto d = api.Call("GET", "/v1/deployments/" + client::PercentEncode(id));
    if (!d) return Fail(d.error());
    state = Str(*d, "state");
    if (Final(state)) {
      if (!json_output) std::printf("final: %s\n", state.c_str());
      return state == "COMPLETED" ? 0 : 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace

int RunClientCommand(const ClientCommand& cmd) {
  client::ApiClient api(client::OptionsFromEnvironment());
  const bool json_output = cmd.output == "json";
  const std::string& v = cmd.verb;
  if (v == "list") {
    std::string query;
    auto add = [&](const char* key, const std::string& value) {
      if (value.empty()) return;
      query += (query.empty() ? "?" : "&") + std::string(key) + "=" + client::PercentEncode(value);
    };
    add("endpoint", cmd.endpoint);
    add("state", cmd.state);
    auto doc = api.Call("GET", "/v1/deployments" + query);
    if (!doc) return Fail(doc.error());
    if (json_output) {
      PrintJson(*doc);
      return 0;
    }
    const json::value& list = doc->is_array() ? *doc : Field(*doc, "deployments");
    std::printf("%-24s %-12s %-13s %-14s %-27s\n", "ID", "ENDPOINT", "STATE", "CANARY", "WEIGHT");
    if (list.is_array()) {
      for (const json::value& d : list.get_array()) PrintDeploymentRow(d);
    }
    return 0;
  }
  if (v == "status") {
    auto doc = api.Call("GET", "/v1/deployments/" + client::PercentEncode(cmd.id));
    if (!doc) return Fail(doc.error());
    if (json_output) {
      PrintJson(*doc);
    } else {
      PrintDeployment(*doc);
    }
    return 0;
  }
  if (v == "events") {
    auto doc = api.Call("GET", "/v1/deployments/" + client::PercentEncode(cmd.id) + "/events");
    if (!doc) return Fail(doc.error());
    if (json_output) {
      PrintJson(*doc);
      return 0;
    }
    for (const json::value& e : EventsOf(*doc)) PrintEvent(e);
    return 0;
  }
  if (v == "complete" || v == "cancel" || v == "rollback" || v == "pause" || v == "resume") {
    auto doc = api.Call("POST", "/v1/deployments/" + client::PercentEncode(cmd.id) + "/" + v);
    if (!doc) return Fail(doc.error());
    if (json_output) {
      PrintJson(*doc);
    } else {
      PrintDeploymentRow(*doc);
    }
    return 0;
  }
  if (v == "deploy") {
    json::object model;
    model["kind"] = cmd.model_kind;
    if (cmd.model_kind == "http") {
      if (cmd.model_url.empty()) {
        return Fail(core::Error(core::ErrorCode::kValidation, "--model-url is required for http"));
      }
      model["url"] = cmd.model_url;
      if (!cmd.model_timeout.empty()) model["timeout"] = cmd.model_timeout;
    } else if (cmd.model_kind == "sagemaker") {
      if (cmd.model_name.empty()) {
        return Fail(core::Error(core::ErrorCode::kValidation,
                                "--model-name (the SageMaker model) is required for sagemaker"));
      }
      model["name"] = cmd.model_name;
      if (!cmd.instance_type.empty()) model["instance_type"] = cmd.instance_type;
    } else {
      if (cmd.model_path.empty()) {
        return Fail(core::Error(core::ErrorCode::kValidation, "--model-path is required"));
      }
      model["path"] = cmd.model_path;
    }
    auto policy = PolicyFromPairs(cmd.policy);
    if (!policy) return Fail(policy.error());
    json::object body;
    body["endpoint"] = cmd.endpoint;
    body["model"] = model;
    if (!cmd.variant.empty()) body["variant"] = cmd.variant;
    body["instances"] = cmd.instances;
    if (cmd.keep_previous) body["keep_previous"] = true;
    if (!policy->empty()) body["policy"] = *policy;
    auto doc = api.Call("POST", "/v1/deployments", json::serialize(body));
    if (!doc) return Fail(doc.error());
    if (json_output && !cmd.wait) {
      PrintJson(*doc);
      return 0;
    }
    if (!json_output) {
      std::printf("deployment %s started: %s -> %s on %s at %s%s\n", Str(*doc, "id").c_str(),
                  Str(*doc, "production_variant").c_str(), Str(*doc, "canary_variant").c_str(),
                  Str(*doc, "endpoint").c_str(), Percent(Num(*doc, "canary_weight")).c_str(),
                  Str(*doc, "state") == "PENDING" ? " (PENDING: the canary is being readied)" : "");
    }
    if (!cmd.wait) return 0;
    return WaitForDeployment(api, Str(*doc, "id"), json_output);
  }
  std::cerr << "mlcanary: unknown command '" << v << "'\n";
  return 2;
}

}  // namespace mlcanary::app
