// SageMakerRuntime: the inference front's upstream in SageMaker mode. Each
// variant of an endpoint is a models::ModelBackend whose PredictAsync calls
// sagemaker-runtime InvokeEndpoint (POST /endpoints/{name}/invocations, signed
// for "sagemaker") with X-Amzn-SageMaker-Target-Variant naming the variant: the
// gateway's router picks the variant (sticky by user_id), SageMaker serves it.
#ifndef MLCANARY_SAGEMAKER_RUNTIME_BACKEND_H_
#define MLCANARY_SAGEMAKER_RUNTIME_BACKEND_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "aws/aws_client.h"
#include "core/error.h"
#include "core/time.h"
#include "models/model_backend.h"

namespace mlcanary::sagemaker {

struct RuntimeOptions {
  // A request's whole budget (every attempt and the waits between them).
  core::Duration timeout = std::chrono::seconds(2);
  // Per variant name; a variant not named here has `timeout`.
  std::map<std::string, core::Duration, std::less<>> variant_timeouts;
  // Attempts for a throttled (429 ThrottlingException, ModelNotReadyException) or
  // unavailable (503 ServiceUnavailable, 500 InternalFailure, no answer) call,
  // the first included; never past the budget. Model errors, validation errors
  // and timeouts are not retried.
  int max_attempts = 2;
  // Full-jitter backoff between attempts: uniform in [0, min(cap, base * 2^(n-1))].
  core::Duration retry_base = std::chrono::milliseconds(25);
  core::Duration retry_cap = std::chrono::milliseconds(250);
  // Calls in flight at once (worker threads, each with its keep-alive connection).
  int threads = 32;
  // Calls waiting for a worker; beyond it a request is answered kUnavailable (503).
  std::size_t max_queued = 4096;
  // Random bits for the jitter; empty: a generator seeded from std::random_device.
  std::function<std::uint64_t()> random_bits;
};

// kValidation naming the field when an option is out of range.
core::Status ValidateRuntimeOptions(const RuntimeOptions& options);

// Owns the sagemaker-runtime client and the worker threads; thread-safe. The
// backends it makes share it (it lives until the last of them and the owner
// are gone). Destruction stops the workers after the calls they run; calls
// still queued complete with kUnavailable.
class SageMakerRuntime : public std::enable_shared_from_this<SageMakerRuntime> {
 public:
  // `client` must be for aws::SageMakerRuntimeService(), and be made with
  // max_idle_handles >= options.threads so that connections are kept alive.
  static core::Result<std::shared_ptr<SageMakerRuntime>> Create(
      std::unique_ptr<aws::AwsClient> client, RuntimeOptions options);
  ~SageMakerRuntime();
  SageMakerRuntime(const SageMakerRuntime&) = delete;
  SageMakerRuntime& operator=(const SageMakerRuntime&) = delete;

  // The backend of `variant` on `endpoint` (name(): the variant's name).
  std::shared_ptr<models::ModelBackend> Backend(std::string endpoint, std::string variant);

  // One InvokeEndpoint with retries, on the calling thread. Errors:
  //   ModelError (424)                              -> kModelError, the model's message
  //   ThrottlingException, ModelNotReadyException    -> kThrottled (after the retries)
  //   ServiceUnavailable, InternalFailure, no answer -> kUnavailable (after the retries)
  //   ValidationError                                -> kValidation ("... not found": kNotFound)
  //   no answer within the variant's timeout         -> kTimeout
  //   an answer that is not rows.rows predictions    -> kModelError
  core::Result<models::Predictions> Invoke(std::string_view endpoint, std::string_view variant,
                                           const models::FeatureRows& rows);

  core::Duration TimeoutFor(std::string_view variant) const;

  struct Impl;

 private:
  SageMakerRuntime() = default;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mlcanary::sagemaker

#endif  // MLCANARY_SAGEMAKER_RUNTIME_BACKEND_H_
