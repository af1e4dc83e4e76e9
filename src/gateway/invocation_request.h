// Parsing and validation of inference request bodies (API.md "Inference API"):
//   {"user_id": "u123", "features": [0.1, 0.2, ...]}
//   {"instances": [{"user_id": "...", "features": [...]}, ...]}
#ifndef MLCANARY_GATEWAY_INVOCATION_REQUEST_H_
#define MLCANARY_GATEWAY_INVOCATION_REQUEST_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "models/model_backend.h"

namespace mlcanary::gateway {

// One request: one or more rows of the same length, row-major.
struct InvocationRequest {
  // The user the request is routed by: the top-level "user_id", else the first
  // instance's; empty when none was given (then the split is random).
  std::string user_id;
  std::vector<float> features;
  std::size_t rows = 0;
  std::size_t cols = 0;

  models::FeatureRows feature_rows() const { return {features, rows, cols}; }
};

// kValidation with a message naming the offending field when the body is not
// JSON, has neither or both of "features" and "instances", a field of the wrong
// type, an empty or ragged feature list, or a number that is not finite as a
// 32-bit float (NaN, Infinity, 1e39). A "user_id" is a string or an integer.
// Unknown fields are ignored.
core::Result<InvocationRequest> ParseInvocationRequest(std::string_view body);

}  // namespace mlcanary::gateway

#endif  // MLCANARY_GATEWAY_INVOCATION_REQUEST_H_
