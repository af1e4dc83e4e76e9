// VirtualTrafficControl: a TrafficControl that keeps endpoints and weights in
// memory and serves no requests; the simulator's data plane.
#ifndef MLCANARY_CORE_TESTING_VIRTUAL_TRAFFIC_CONTROL_H_
#define MLCANARY_CORE_TESTING_VIRTUAL_TRAFFIC_CONTROL_H_

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/ports.h"

namespace mlcanary::core::testing {

// Thread-safe. Enforces the port's rules as a real data plane does: unknown
// endpoint or variant -> NotFound; weights as core::ValidateWeights wants them.
class VirtualTrafficControl final : public core::TrafficControl {
 public:
  void AddEndpoint(core::Endpoint endpoint);

  core::Result<core::Endpoint> DescribeEndpoint(std::string_view endpoint) override;
  core::Status CreateVariant(std::string_view endpoint, const core::Variant& variant) override;
  core::Status RemoveVariant(std::string_view endpoint, std::string_view variant) override;
  core::Status SetWeights(std::string_view endpoint,
                          const std::vector<core::VariantWeight>& weights) override;
  // Keeps the shadow (the simulator's metrics play the canary's answers);
  // the variant must exist. Removing it stops the shadow, as the gateway does.
  core::Status SetShadow(std::string_view endpoint,
                         const std::optional<core::ShadowSpec>& spec) override;
  bool SupportsShadow() const override { return true; }
  std::optional<core::ShadowSpec> DescribeShadow(std::string_view endpoint) override;
  // What SetModelOutputs declared for the variant's model path; nullopt otherwise.
  std::optional<std::size_t> ModelOutputs(std::string_view endpoint,
                                          const core::Variant& variant) override;
  // Declares the outputs per row of the model at `path` (tests of the creation-time check).
  void SetModelOutputs(std::string path, std::size_t outputs);

  // Number of SetWeights calls that changed something (for tests and reports).
  int weight_changes() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, core::Endpoint, std::less<>> endpoints_;  // GUARDED_BY(mu_)
  int weight_changes_ = 0;                                        // GUARDED_BY(mu_)
  std::map<std::string, core::ShadowSpec, std::less<>> shadows_;  // GUARDED_BY(mu_)
  std::map<std::string, std::size_t, std::less<>> outputs_;       // GUARDED_BY(mu_)
};

}  // namespace mlcanary::core::testing

#endif  // MLCANARY_CORE_TESTING_VIRTUAL_TRAFFIC_CONTROL_H_
