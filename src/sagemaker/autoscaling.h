// SageMakerAutoScaling: Application Auto Scaling for SageMaker variants, as the
// design document configures it: a scalable target on
// sagemaker:variant:DesiredInstanceCount and a target-tracking policy on
// SageMakerVariantInvocationsPerInstance.
#ifndef MLCANARY_SAGEMAKER_AUTOSCALING_H_
#define MLCANARY_SAGEMAKER_AUTOSCALING_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aws/aws_client.h"
#include "core/error.h"
#include "core/time.h"

namespace mlcanary::sagemaker {

struct AutoScalingOptions {
  bool enabled = true;  // false: Register and Deregister make no calls at all
  int min_capacity = 1;
  int max_capacity = 10;
  double target_invocations = 1000;  // invocations per instance per minute
  core::Duration scale_out_cooldown = std::chrono::seconds(60);
  core::Duration scale_in_cooldown = std::chrono::seconds(300);
};

// kValidation naming the bad field: min_capacity < 1, max < min, target <= 0,
// negative or sub-second cooldowns.
core::Status ValidateAutoScalingOptions(const AutoScalingOptions& options);

// Borrows the Application Auto Scaling client (AwsClient for AutoScalingService()),
// which must outlive it. Thread-safe (the client is).
class SageMakerAutoScaling {
 public:
  static core::Result<std::unique_ptr<SageMakerAutoScaling>> Create(aws::AwsClient& client,
                                                                    AutoScalingOptions options);

  // RegisterScalableTarget (min/max capacity) + PutScalingPolicy (target tracking).
  // Both are upserts, so registering twice is harmless.
  core::Status Register(std::string_view endpoint, std::string_view variant);
  // DescribeScalingPolicies (paged), DeleteScalingPolicy for each policy the variant has,
  // whatever its name (the user's own too), then DeregisterScalableTarget. A variant with
  // no policies is fine; what is not registered (ObjectNotFoundException) counts as done.
  core::Status Deregister(std::string_view endpoint, std::string_view variant);
  // The names of the variant's scaling policies (DescribeScalingPolicies, every page).
  core::Result<std::vector<std::string>> PolicyNames(std::string_view endpoint,
                                                     std::string_view variant);

  const AutoScalingOptions& options() const { return options_; }

  // "endpoint/<endpoint>/variant/<variant>"
  static std::string ResourceId(std::string_view endpoint, std::string_view variant);
  // "<endpoint>-<variant>-invocations": the name Register gives its policy.
  static std::string PolicyName(std::string_view endpoint, std::string_view variant);

 private:
  SageMakerAutoScaling(aws::AwsClient& client, AutoScalingOptions options)
      : client_(client), options_(options) {}

  aws::AwsClient& client_;
  const AutoScalingOptions options_;
};

}  // namespace mlcanary::sagemaker

#endif  // MLCANARY_SAGEMAKER_AUTOSCALING_H_
