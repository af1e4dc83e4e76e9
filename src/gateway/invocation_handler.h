// InvocationHandler: one inference request in, one response out -- parse,
// route, predict, record metrics, answer -- with no sockets involved (the
// server in gateway.h feeds it).
#ifndef MLCANARY_GATEWAY_INVOCATION_HANDLER_H_
#define MLCANARY_GATEWAY_INVOCATION_HANDLER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "gateway/router.h"
#include "gateway/shadow.h"

namespace mlcanary::gateway {

struct InferenceRequest {
  std::string_view method;  // "GET", "POST", ...
  std::string_view target;  // "/v1/endpoints/recs/invocations?x=1"
  std::string_view body;
  std::string_view target_variant;  // X-Amzn-SageMaker-Target-Variant, or empty
  // When the request was fully read: the start of its total latency.
  std::chrono::steady_clock::time_point received = std::chrono::steady_clock::now();
};

struct InferenceResponse {
  int status = 200;
  std::string body;        // JSON
  std::string variant;     // the variant that answered, when one was picked
  bool sagemaker = false;  // answer x-Amzn-Invoked-Production-Variant too
};

using Respond = std::move_only_function<void(InferenceResponse)>;

// Routes (API.md "Inference API"):
//   POST /v1/endpoints/{endpoint}/invocations
//   POST /endpoints/{endpoint}/invocations   (SageMaker runtime)
//   GET  /ping
// Request bodies that are not valid (ParseInvocationRequest) are answered 400
// before any variant is picked, so they count against no variant; everything
// after the pick -- a wrong feature count for that variant's model, a backend
// failure -- is recorded as that variant's invocation with its status.
// With a shadow queue, a request to an endpoint with a shadow (Router::SetShadow)
// that another variant answers is copied to the shadow variant (a sampled share):
// the rows are copied before production is called, the canary's call is posted
// after production's answer has been handed to `respond` (shadow.h).
// Thread-safe; `router` must outlive it.
class InvocationHandler {
 public:
  // `random_bits` gives the split's random numbers; called from many threads.
  // `shadow` null: no shadow copies.
  InvocationHandler(Router& router, std::function<std::uint64_t()> random_bits,
                    std::shared_ptr<ShadowQueue> shadow = nullptr);

  // Calls `respond` exactly once, before returning for in-process models or
  // later from the backend's thread. The request's views need only live until
  // Handle returns.
  void Handle(const InferenceRequest& request, Respond respond);

 private:
  void Invoke(const InferenceRequest& request, std::string_view endpoint, bool sagemaker,
              Respond respond);
  // The shadow of a request `variant` answers, or null (none, not sampled, dropped).
  std::shared_ptr<ShadowPair> TakeShadowOf(const std::shared_ptr<const RoutingTable>& table,
                                           std::string_view endpoint, const VariantRoute& variant,
                                           const models::FeatureRows& rows);

  Router& router_;
  std::function<std::uint64_t()> random_bits_;
  std::shared_ptr<ShadowQueue> shadow_;
};

// An error response: status from HttpStatusFor, body from ErrorJson.
InferenceResponse ErrorResponse(const core::Error& error);

}  // namespace mlcanary::gateway

#endif  // MLCANARY_GATEWAY_INVOCATION_HANDLER_H_
