// In-memory endpoints and weights.
#include "core/testing/virtual_traffic_control.h"

#include <algorithm>
#include <cmath>

namespace mlcanary::core::testing {

void VirtualTrafficControl::AddEndpoint(core::Endpoint endpoint) {
  std::lock_guard lock(mu_);
  const std::string name = endpoint.name;
  endpoints_[name] = std::move(endpoint);
}

core::Result<core::Endpoint> VirtualTrafficControl::DescribeEndpoint(std::string_view endpoint) {
  std::lock_guard lock(mu_);
  auto it = endpoints_.find(endpoint);
  if (it == endpoints_.end()) {
    return core::NotFoundError("endpoint '" + std::string(endpoint) + "' not found");
  }
  return it->second;
}

core::Status VirtualTrafficControl::CreateVariant(std::string_view endpoint,
                                                  const core::Variant& variant) {
  std::lock_guard lock(mu_);
  auto it = endpoints_.find(endpoint);
  if (it == endpoints_.end()) {
    return core::NotFoundError("endpoint '" + std::string(endpoint) + "' not found");
  }
  if (it->second.FindVariant(variant.name) != nullptr) {
    return core::ConflictError("variant '" + variant.name + "' already exists");
  }
  core::Variant added = variant;
  added.weight = 0;
  it->second.variants.push_back(added);
  return core::Ok();
}

core::Status VirtualTrafficControl::RemoveVariant(std::string_view endpoint,
                                                  std::string_view variant) {
  std::lock_guard lock(mu_);
  auto it = endpoints_.find(endpoint);
  if (it == endpoints_.end()) {
    return core::NotFoundError("endpoint '" + std::string(endpoint) + "' not found");
  }
  auto& variants = it->second.variants;
  auto v = std::find_if(variants.begin(), variants.end(),
                        [&](const core::Variant& x) { return x.name == variant; });
  if (v == variants.end()) {
    return core::NotFoundError("variant '" + std::string(variant) + "' not found");
  }
  if (v->weight > 0) {
    return core::FailedPreconditionError("variant '" + std::string(variant) +
                                         "' still has traffic");
  }
  variants.erase(v);
  return core::Ok();
}

core::Status VirtualTrafficControl::SetWeights(std::string_view endpoint,
                                               const std::vector<core::VariantWeight>& weights) {
  std::lock_guard lock(mu_);
  auto it = endpoints_.find(endpoint);
  if (it == endpoints_.end()) {
    return core::NotFoundError("endpoint '" + std::string(endpoint) + "' not found");
  }
  core::Endpoint next = it->second;
  for (const auto& w : weights) {
    if (!std::isfinite(w.weight) || w.weight < 0 || w.weight > 1) {
      return core::ValidationError("weight of '" + w.variant + "' must be in [0, 1]");
    }
    auto v = std::find_if(next.variants.begin(), next.variants.end(),
                          [&](const core::Variant& x) { return x.name == w.variant; });
    if (v == next.variants.end()) {
      return core::NotFoundError("variant '" + w.variant + "' not found on endpoint '" +
                                 std::string(endpoint) + "'");
    }
    v->weight = w.weight;
  }
  double sum = 0;
  for (const auto& v : next.variants) sum += v.weight;
  if (std::fabs(sum - 1.0) > 1e-6) {
    return core::ValidationError("weights of endpoint '" + std::string(endpoint) +
                                 "' must sum to 1, got " + std::to_string(sum));
  }
  if (next.variants != it->second.variants) ++weight_changes_;
  it->second = std::move(next);
  return core::Ok();
}

int VirtualTrafficControl::weight_changes() const {
  std::lock_guard lock(mu_);
  return weight_changes_;
}

}  // namespace mlcanary::core::testing
