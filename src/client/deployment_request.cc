// The body of POST /v1/deployments from the CLI's flags.
#include "client/deployment_request.h"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <optional>

namespace mlcanary::client {
namespace json = boost::json;
namespace {

std::optional<double> Number(const std::string& s) {
  double d = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec == std::errc() && end == s.data() + s.size()) return d;
  return std::nullopt;
}

core::Result<json::array> Steps(const std::string& value) {
  json::array steps;
  std::size_t start = 0;
  while (start <= value.size()) {
    const auto comma = value.find(',', start);
    const std::string item = value.substr(start, comma - start);
    auto d = Number(item);
    if (!d) return core::ValidationError("--policy steps: '" + item + "' is not a number");
    steps.push_back(*d);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return steps;
}

// "true"/"false", an integer, a number, else the text.
json::value Scalar(const std::string& value) {
  if (value == "true" || value == "false") return value == "true";
  if (auto d = Number(value)) {
    if (std::trunc(*d) == *d && value.find('.') == std::string::npos) {
      return static_cast<std::int64_t>(*d);
    }
    return *d;
  }
  return json::string(value);
}

json::object Model(const DeploymentRequest& r) {
  json::object model;
  model["kind"] = r.model_kind;
  if (r.model_kind == "http") {
    model["url"] = r.model_url;
    if (!r.model_timeout.empty()) model["timeout"] = r.model_timeout;
  } else if (r.model_kind == "sagemaker") {
    model["name"] = r.model_name;
    if (!r.instance_type.empty()) model["instance_type"] = r.instance_type;
  } else {
    model["path"] = r.model_path;
  }
  return model;
}

}  // namespace

core::Status CheckModelFlags(const DeploymentRequest& r) {
  if (r.model_kind == "http") {
    if (r.model_url.empty()) return core::ValidationError("--model-url is required for http");
  } else if (r.model_kind == "sagemaker") {
    if (r.model_name.empty()) {
      return core::ValidationError("--model-name (the SageMaker model) is required for sagemaker");
    }
  } else if (r.model_path.empty()) {
    return core::ValidationError("--model-path is required");
  }
  return core::Ok();
}

std::string RequestBody(const DeploymentRequest& r) {
  json::object body;
  body["endpoint"] = r.endpoint;
  body["model"] = Model(r);
  if (!r.variant.empty()) body["variant"] = r.variant;
  body["instances"] = r.instances;
  if (r.keep_previous) body["keep_previous"] = true;
  if (!r.policy.empty()) body["policy"] = r.policy;
  return json::serialize(body);
}

core::Result<json::object> PolicyFromPairs(const std::vector<std::string>& pairs) {
  json::object policy;
  for (const std::string& pair : pairs) {
    const auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return core::ValidationError("--policy '" + pair + "': expected KEY=VALUE");
    }
    const std::string key = pair.substr(0, eq);
    const std::string value = pair.substr(eq + 1);
    if (key == "steps") {
      auto steps = Steps(value);
      if (!steps) return std::unexpected(steps.error());
      policy[key] = std::move(*steps);
    } else {
      policy[key] = Scalar(value);
    }
  }
  return policy;
}

}  // namespace mlcanary::client
