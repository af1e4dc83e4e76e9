#include "fleet/store_traffic_control.h"

#include <algorithm>
#include <string>
#include <utility>

#include "core/traffic_weights.h"

namespace mlcanary::fleet {
namespace {

std::unexpected<core::Error> NoEndpoint(std::string_view endpoint) {
  return core::NotFoundError("endpoint '" + std::string(endpoint) + "' does not exist");
}

std::vector<core::VariantWeight> WeightsOf(const core::Endpoint& endpoint) {
  std::vector<core::VariantWeight> out;
  for (const core::Variant& v : endpoint.variants) out.push_back({v.name, v.weight});
  return out;
}

}  // namespace

StoreTrafficControl::StoreTrafficControl(core::DeploymentStore& store, core::TrafficControl& local,
                                         std::function<core::Status()> sync_local)
    : store_(store), local_(local), sync_local_(std::move(sync_local)) {}

core::Result<core::Endpoint> StoreTrafficControl::Load(std::string_view endpoint) {
  auto all = store_.ListEndpoints();
  if (!all) return std::unexpected(all.error());
  for (core::Endpoint& e : *all) {
    if (e.name == endpoint && !e.variants.empty()) return std::move(e);
  }
  return NoEndpoint(endpoint);
}

core::Result<core::Endpoint> StoreTrafficControl::DescribeEndpoint(std::string_view endpoint) {
  std::lock_guard lock(mu_);
  return Load(endpoint);
}

core::Status StoreTrafficControl::CheckVariant(std::string_view endpoint,
                                               const core::Variant& variant) {
  return local_.CheckVariant(endpoint, variant);
}

core::Status StoreTrafficControl::CreateVariant(std::string_view endpoint,
                                                const core::Variant& variant) {
  std::lock_guard lock(mu_);
  auto record = Load(endpoint);
  if (!record) return std::unexpected(record.error());
  core::Variant added = variant;
  added.weight = 0;
  if (const core::Variant* there = record->FindVariant(variant.name); there != nullptr) {
    if (there->model != variant.model || there->instances != variant.instances) {
      return core::ConflictError("variant '" + variant.name + "' already exists on endpoint '" +
                                 std::string(endpoint) + "' with another model");
    }
    // Recorded already (by this leader, or by one before it that died before
    // it recorded the deployment's next state): ready once it is loaded here.
    return LoadedHere(endpoint, added);
  }
  if (auto s = local_.CheckVariant(endpoint, variant); !s) return s;
  const core::Endpoint before = *record;
  record->variants.push_back(added);
  if (auto s = store_.SaveEndpoint(*record); !s) return s;
  if (auto loaded = LoadedHere(endpoint, added); !loaded) {
    // Not servable here: out of the record again, so that no replica gives
    // it traffic. (If this write fails too, it stays at weight 0.)
    (void)store_.SaveEndpoint(before);
    return loaded;
  }
  return core::Ok();
}

core::Status StoreTrafficControl::LoadedHere(std::string_view endpoint,
                                             const core::Variant& variant) {
  if (!sync_local_) return core::Ok();
  const core::Status synced = sync_local_();
  // The sync answers the first error of any endpoint: what matters here is
  // whether this variant is served by this replica's router now.
  auto live = local_.DescribeEndpoint(endpoint);
  if (live) {
    const core::Variant* here = live->FindVariant(variant.name);
    if (here != nullptr && here->model == variant.model) return core::Ok();
  }
  if (!synced) return synced;
  if (!live) return std::unexpected(live.error());
  return core::MakeError(core::ErrorCode::kUnavailable,
                         "variant '" + variant.name + "' of endpoint '" + std::string(endpoint) +
                             "' is recorded but not loaded on this replica yet");
}

core::Status StoreTrafficControl::RemoveVariant(std::string_view endpoint,
                                                std::string_view variant) {
  std::lock_guard lock(mu_);
  auto record = Load(endpoint);
  if (!record) return std::unexpected(record.error());
  auto it = std::find_if(record->variants.begin(), record->variants.end(),
                         [&](const core::Variant& v) { return v.name == variant; });
  if (it == record->variants.end()) {
    return core::NotFoundError("variant '" + std::string(variant) +
                               "' does not exist on endpoint '" + std::string(endpoint) + "'");
  }
  if (it->weight > 0) {
    return core::FailedPreconditionError("variant '" + std::string(variant) +
                                         "' still has weight " + std::to_string(it->weight) +
                                         "; move its traffic first");
  }
  record->variants.erase(it);
  return store_.SaveEndpoint(*record);
}

core::Status StoreTrafficControl::SetWeights(std::string_view endpoint,
                                             const std::vector<core::VariantWeight>& weights) {
  std::lock_guard lock(mu_);
  auto record = Load(endpoint);
  if (!record) return std::unexpected(record.error());
  auto applied = core::ApplyWeights(endpoint, WeightsOf(*record), weights);
  if (!applied) return std::unexpected(applied.error());
  for (std::size_t i = 0; i < record->variants.size(); ++i) {
    record->variants[i].weight = (*applied)[i].weight;
  }
  return store_.SaveEndpoint(*record);
}

}  // namespace mlcanary::fleet
