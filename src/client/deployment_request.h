// DeploymentRequest: the body of POST /v1/deployments as the CLI's `deploy`
// flags give it. Values go to the server as typed; the server validates them
// (its messages name the key: "body.policy.steps[1]: expected a number").
#ifndef MLCANARY_CLIENT_DEPLOYMENT_REQUEST_H_
#define MLCANARY_CLIENT_DEPLOYMENT_REQUEST_H_

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "core/error.h"

namespace mlcanary::client {

struct DeploymentRequest {
  std::string endpoint;
  std::string model_kind = "xgboost";  // xgboost, http or sagemaker
  std::string model_path;              // xgboost
  std::string model_url;               // http
  std::string model_timeout;           // http; empty: the server's default
  std::string model_name;              // sagemaker: the SageMaker model
  std::string instance_type;           // sagemaker; empty: the production variant's
  std::string variant;                 // empty: the server names it
  int instances = 1;
  bool keep_previous = false;
  boost::json::object policy;  // overrides (PolicyFromPairs); empty: the endpoint's policy
};

// The model's required flag for its kind: "--model-url is required for http"
// and the like (a ValidationError), before anything is sent.
core::Status CheckModelFlags(const DeploymentRequest& request);

// The JSON body: {"endpoint", "model": {...}, "variant"?, "instances",
// "keep_previous"?, "policy"?}.
std::string RequestBody(const DeploymentRequest& request);

// `--policy KEY=VALUE` flags as policy overrides: "bake=2s" -> {"bake": "2s"};
// numbers, booleans and steps' comma lists become JSON values. A pair without
// '=' or a step that is not a number is a ValidationError naming it.
core::Result<boost::json::object> PolicyFromPairs(const std::vector<std::string>& pairs);

}  // namespace mlcanary::client

#endif  // MLCANARY_CLIENT_DEPLOYMENT_REQUEST_H_
