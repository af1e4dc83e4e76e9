// SageMakerTrafficControl: core::TrafficControl on a real SageMaker endpoint.
// Variants are added and removed with a new endpoint config + UpdateEndpoint;
// weights move with UpdateEndpointWeightsAndCapacities (the design document's
// deployment and traffic services).
#ifndef MLCANARY_SAGEMAKER_SAGEMAKER_TRAFFIC_CONTROL_H_
#define MLCANARY_SAGEMAKER_SAGEMAKER_TRAFFIC_CONTROL_H_

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "aws/aws_client.h"
#include "core/clock.h"
#include "core/ports.h"
#include "sagemaker/autoscaling.h"

namespace mlcanary::sagemaker {

struct SageMakerOptions {
  // How often DescribeEndpoint is polled while the endpoint is Updating, and
  // for how long at most (then kTimeout, which the controller retries).
  core::Duration poll_interval = std::chrono::seconds(15);
  core::Duration wait_timeout = std::chrono::minutes(30);
  // CreateEndpoint/UpdateEndpoint read a new config with eventual consistency:
  // it is described until visible, up to this many times, this far apart.
  int config_visible_attempts = 10;
  core::Duration config_visible_interval = std::chrono::seconds(1);
  // Delete the endpoint config an update replaced (configs are never reused).
  bool delete_old_configs = true;
  AutoScalingOptions autoscaling;
  // Waits between polls; empty: std::this_thread::sleep_for.
  std::function<void(core::Duration)> sleep;
  // Deadlines and config-name timestamps; null: the system clock. Must outlive the adapter.
  const core::Clock* clock = nullptr;
  // Random bits for config-name suffixes; empty: seeded from std::random_device.
  std::function<std::uint64_t()> random_bits;
  // Warnings that do not fail the operation (an old config not deleted), one line each.
  std::function<void(std::string_view line)> log;
};

// Thread-safe. Mutations of one endpoint are serialized (each waits for
// InService); different endpoints proceed in parallel. Borrows both clients
// (SageMakerService() and AutoScalingService()), which must outlive it.
class SageMakerTrafficControl final : public core::TrafficControl {
 public:
  // kValidation for bad options (non-positive poll interval or timeout, bad autoscaling).
  static core::Result<std::unique_ptr<SageMakerTrafficControl>> Create(aws::AwsClient& sagemaker,
                                                                       aws::AwsClient& autoscaling,
                                                                       SageMakerOptions options);

  // EndpointStatus InService -> kInService; Creating, Updating, SystemUpdating,
  // RollingBack -> kUpdating; anything else -> kFailed. Weights are the current
  // weights normalised to sum 1; each variant's model comes from the endpoint's
  // config (cached per config name: configs are immutable).
  core::Result<core::Endpoint> DescribeEndpoint(std::string_view endpoint) override;
  // New config = the current variants (current counts and weights) + this one;
  // UpdateEndpoint (RetainAllVariantProperties), wait for InService, register
  // autoscaling, delete the old config. The model must be kind sagemaker.
  // Calling it again for a variant already there with the same model finishes
  // the job (autoscaling) and succeeds; another model is kConflict.
  core::Status CheckVariant(std::string_view endpoint, const core::Variant& variant) override;
  core::Status CreateVariant(std::string_view endpoint, const core::Variant& variant) override;
  // Deregisters autoscaling, then a config without the variant, as above.
  // The variant must have weight 0 and must not be the last one.
  core::Status RemoveVariant(std::string_view endpoint, std::string_view variant) override;
  // Waits for InService when the endpoint is updating (autoscaling), then one
  // UpdateEndpointWeightsAndCapacities with every variant's DesiredWeight
  // (unnamed variants keep their share; all must sum to 1), then waits for
  // InService. Weights already in force: no call. The checks are
  // core::ValidateWeights'; those that need nothing of the endpoint come before
  // any call to SageMaker.
  core::Status SetWeights(std::string_view endpoint,
                          const std::vector<core::VariantWeight>& weights) override;

  // "<endpoint>-<UTC yyyymmddHHMMSS>-<4 hex>", at most 63 characters (the
  // endpoint part is cut, never the suffix).
  static std::string ConfigName(std::string_view endpoint, core::Timestamp now,
                                std::uint64_t random_bits);

 private:
  SageMakerTrafficControl(aws::AwsClient& sagemaker, std::unique_ptr<SageMakerAutoScaling> scaling,
                          SageMakerOptions options);

  core::Result<boost::json::object> DescribeRaw(std::string_view endpoint);
  // The endpoint, described, and required to be InService (Updating: kUnavailable).
  core::Result<boost::json::object> DescribeInService(std::string_view endpoint);
  core::Result<std::shared_ptr<const boost::json::object>> DescribeConfig(const std::string& name);
  // The config `described` (the endpoint) serves; missing: kFailedPrecondition
  // naming it (kNotFound would read as "the variant is gone").
  core::Result<std::shared_ptr<const boost::json::object>> DescribeCurrentConfig(
      std::string_view endpoint, const boost::json::object& described);
  // Not found after config_visible_attempts reads: kUnavailable (retryable).
  core::Status WaitConfigVisible(const std::string& name);
  core::Status WaitInService(std::string_view endpoint, std::string_view expected_config);
  // Builds a config from `described` with the variants `keep` says yes to, plus
  // `extra` when not null; creates it, updates the endpoint and waits.
  core::Status Reconfigure(std::string_view endpoint, const boost::json::object& described,
                           const std::function<bool(std::string_view variant)>& keep,
                           const boost::json::object* extra);
  void DeleteConfig(const std::string& name);
  // DeleteConfig of a config made for a failed update, unless the endpoint is
  // in transition, serves it or has it pending (or cannot be described).
  void DeleteUnusedConfig(std::string_view endpoint, const std::string& name);
  std::mutex& EndpointMutex(std::string_view endpoint);
  core::Timestamp Now() const;
  void Sleep(core::Duration d) const;
  std::uint64_t RandomBits();
  void Log(std::string_view line) const;

  aws::AwsClient& sagemaker_;
  const std::unique_ptr<SageMakerAutoScaling> scaling_;
  const SageMakerOptions options_;

  std::mutex mu_;  // guards the maps and the generator
  std::map<std::string, std::shared_ptr<const boost::json::object>, std::less<>>
      configs_;                                                                  // GUARDED_BY(mu_)
  std::map<std::string, std::unique_ptr<std::mutex>, std::less<>> endpoint_mu_;  // GUARDED_BY(mu_)
  std::mt19937_64 rng_;                                                          // GUARDED_BY(mu_)
};

}  // namespace mlcanary::sagemaker

#endif  // MLCANARY_SAGEMAKER_SAGEMAKER_TRAFFIC_CONTROL_H_
