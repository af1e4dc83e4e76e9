#include "fleet/endpoint_follower.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace mlcanary::fleet {
namespace {

// Weights closer than this are the same weight (they went through JSON).
constexpr double kSameWeight = 1e-9;

std::vector<core::VariantWeight> WeightsOf(const core::Endpoint& endpoint) {
  std::vector<core::VariantWeight> out;
  for (const core::Variant& v : endpoint.variants) out.push_back({v.name, v.weight});
  return out;
}

// The recorded weights, for every variant served here: those the record does
// not name get 0.
std::vector<core::VariantWeight> TargetWeights(const core::Endpoint& record,
                                               const core::Endpoint& local) {
  std::vector<core::VariantWeight> out = WeightsOf(record);
  for (const core::Variant& v : local.variants) {
    if (record.FindVariant(v.name) == nullptr) out.push_back({v.name, 0});
  }
  return out;
}

bool WeightsDiffer(const core::Endpoint& local, const std::vector<core::VariantWeight>& target) {
  for (const core::VariantWeight& w : target) {
    const core::Variant* v = local.FindVariant(w.variant);
    if (v == nullptr || std::abs(v->weight - w.weight) > kSameWeight) return true;
  }
  return false;
}

core::Error InEndpoint(const core::Error& e, std::string_view endpoint) {
  return e.WithContext("endpoint '" + std::string(endpoint) + "'");
}

}  // namespace

EndpointFollower::EndpointFollower(core::DeploymentStore& store, core::ChangeFeed* feed,
                                   core::TrafficControl& local, FollowerOptions options)
    : store_(store), feed_(feed), local_(local), options_(std::move(options)) {}

EndpointFollower::~EndpointFollower() { Stop(); }

void EndpointFollower::Start() {
  {
    std::lock_guard lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void EndpointFollower::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (feed_ != nullptr) feed_->Interrupt();
  if (thread_.joinable()) thread_.join();
}

FollowerStats EndpointFollower::stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

void EndpointFollower::Run() {
  auto stopped = [this] {
    std::lock_guard lock(mu_);
    return stop_;
  };
  while (!stopped()) {
    (void)SyncOnce();
    bool waited = false;
    if (feed_ != nullptr) {
      auto changed = feed_->WaitForChange(options_.resync);
      // A broken feed answers at once; fall back to the periodic re-read.
      waited = changed.has_value();
      if (changed && *changed && options_.on_change) options_.on_change();
    }
    if (!waited) {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock,
                   feed_ != nullptr
                       ? std::min(options_.resync, core::Duration(std::chrono::seconds(1)))
                       : options_.resync,
                   [this] { return stop_; });
    }
  }
}

core::Status EndpointFollower::SyncOnce() {
  std::lock_guard sync_lock(sync_mu_);
  core::Status result = core::Ok();
  std::uint64_t changes = 0;
  auto records = store_.ListEndpoints();
  if (!records) {
    result = std::unexpected(records.error().WithContext("reading the endpoint records"));
  } else {
    for (const core::Endpoint& record : *records) {
      if (auto s = SyncEndpoint(record, changes); !s && result) result = s;
    }
  }
  Count(result, changes);
  return result;
}

void EndpointFollower::Count(const core::Status& result, std::uint64_t changes) {
  {
    std::lock_guard lock(stats_mu_);
    ++stats_.syncs;
    stats_.changes += changes;
    if (result) {
      stats_.last_in_sync = std::chrono::steady_clock::now();
    } else {
      ++stats_.errors;
      stats_.last_error = result.error();
    }
  }
  if (!result && !failing_ && options_.log) {
    options_.log("fleet: this replica does not serve what the store records: " +
                 result.error().ToString());
  }
  if (result && failing_ && options_.log) {
    options_.log("fleet: this replica serves what the store records again");
  }
  failing_ = !result;
}

core::Status EndpointFollower::SyncEndpoint(const core::Endpoint& record, std::uint64_t& changes) {
  if (record.variants.empty()) return core::Ok();
  auto local = local_.DescribeEndpoint(record.name);
  if (!local) {
    // An endpoint this replica's configuration does not serve: not ours.
    if (local.error().code() == core::ErrorCode::kNotFound) return core::Ok();
    return std::unexpected(InEndpoint(local.error(), record.name));
  }

  // 1. Variants missing here, or here with another model.
  for (const core::Variant& v : record.variants) {
    const core::Variant* mine = local->FindVariant(v.name);
    if (mine != nullptr && mine->model == v.model) continue;
    if (mine != nullptr && mine->weight > 0) {
      // Its traffic goes to the variant with the most weight among the others
      // until the new model is loaded; the weights as recorded follow below.
      std::vector<core::VariantWeight> moved = WeightsOf(*local);
      core::VariantWeight* replaced = nullptr;
      core::VariantWeight* heir = nullptr;
      for (core::VariantWeight& w : moved) {
        if (w.variant == v.name) {
          replaced = &w;
        } else if (heir == nullptr || w.weight > heir->weight) {
          heir = &w;
        }
      }
      if (heir == nullptr) {
        return core::FailedPreconditionError("endpoint '" + record.name + "': variant '" + v.name +
                                             "' has another model here and no other variant to "
                                             "take its traffic while it is replaced");
      }
      heir->weight += replaced->weight;
      replaced->weight = 0;
      if (auto s = local_.SetWeights(record.name, moved); !s) {
        return std::unexpected(InEndpoint(s.error(), record.name));
      }
      ++changes;
    }
    if (mine != nullptr) {
      if (auto s = local_.RemoveVariant(record.name, v.name); !s) {
        return std::unexpected(InEndpoint(s.error(), record.name));
      }
      ++changes;
    }
    core::Variant fresh = v;
    fresh.weight = 0;
    if (auto s = local_.CreateVariant(record.name, fresh); !s) {
      return std::unexpected(InEndpoint(s.error(), record.name));
    }
    ++changes;
  }
  auto now = local_.DescribeEndpoint(record.name);
  if (!now) {
    return std::unexpected(InEndpoint(now.error(), record.name));
  }

  // 2. The weights as recorded, all at once.
  const std::vector<core::VariantWeight> target = TargetWeights(record, *now);
  if (WeightsDiffer(*now, target)) {
    if (auto s = local_.SetWeights(record.name, target); !s) {
      return std::unexpected(InEndpoint(s.error(), record.name));
    }
    ++changes;
  }

  // 3. Variants the record no longer has.
  for (const core::Variant& v : now->variants) {
    if (record.FindVariant(v.name) != nullptr) continue;
    if (auto s = local_.RemoveVariant(record.name, v.name); !s) {
      return std::unexpected(InEndpoint(s.error(), record.name));
    }
    ++changes;
  }
  return core::Ok();
}

}  // namespace mlcanary::fleet
