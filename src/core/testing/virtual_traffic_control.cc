// In-memory endpoints and weights.
#include "core/testing/virtual_traffic_control.h"

#include <algorithm>

#include "core/traffic_weights.h"

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
  if (auto sh = shadows_.find(endpoint);
      sh != shadows_.end() && (sh->second.variant == variant || sh->second.mirror_to == variant)) {
    shadows_.erase(sh);
  }
  return core::Ok();
}

core::Status VirtualTrafficControl::SetShadow(std::string_view endpoint,
                                              const std::optional<core::ShadowSpec>& spec) {
  std::lock_guard lock(mu_);
  auto it = endpoints_.find(endpoint);
  if (it == endpoints_.end()) {
    return core::NotFoundError("endpoint '" + std::string(endpoint) + "' not found");
  }
  if (!spec) {
    if (auto sh = shadows_.find(endpoint); sh != shadows_.end()) shadows_.erase(sh);
    return core::Ok();
  }
  if (it->second.FindVariant(spec->variant) == nullptr) {
    return core::NotFoundError("variant '" + spec->variant + "' not found");
  }
  if (!spec->mirror_to.empty() &&
      (spec->mirror_to == spec->variant || it->second.FindVariant(spec->mirror_to) == nullptr)) {
    return core::NotFoundError("mirror variant '" + spec->mirror_to + "' not found");
  }
  shadows_.insert_or_assign(std::string(endpoint), *spec);
  return core::Ok();
}

std::optional<std::size_t> VirtualTrafficControl::ModelOutputs(std::string_view /*endpoint*/,
                                                               const core::Variant& variant) {
  std::lock_guard lock(mu_);
  auto it = outputs_.find(variant.model.path);
  if (it == outputs_.end()) return std::nullopt;
  return it->second;
}

void VirtualTrafficControl::SetModelOutputs(std::string path, std::size_t outputs) {
  std::lock_guard lock(mu_);
  outputs_.insert_or_assign(std::move(path), outputs);
}

std::optional<core::ShadowSpec> VirtualTrafficControl::DescribeShadow(std::string_view endpoint) {
  std::lock_guard lock(mu_);
  auto it = shadows_.find(endpoint);
  if (it == shadows_.end()) return std::nullopt;
  return it->second;
}

core::Status VirtualTrafficControl::SetWeights(std::string_view endpoint,
                                               const std::vector<core::VariantWeight>& weights) {
  std::lock_guard lock(mu_);
  auto it = endpoints_.find(endpoint);
  if (it == endpoints_.end()) {
    return core::NotFoundError("endpoint '" + std::string(endpoint) + "' not found");
  }
  auto& variants = it->second.variants;
  std::vector<core::VariantWeight> current;
  for (const auto& v : variants) current.push_back({v.name, v.weight});
  auto next = core::ApplyWeights(endpoint, current, weights);  // same order as current
  if (!next) return std::unexpected(next.error());
  bool changed = false;
  for (std::size_t i = 0; i < variants.size(); ++i) {
    changed = changed || variants[i].weight != (*next)[i].weight;
    variants[i].weight = (*next)[i].weight;
  }
  if (changed) ++weight_changes_;
  return core::Ok();
}

int VirtualTrafficControl::weight_changes() const {
  std::lock_guard lock(mu_);
  return weight_changes_;
}

}  // namespace mlcanary::core::testing
