// RouterMirror: describe the source, then bring the router's copy to it.
#include "gateway/router_mirror.h"

#include <utility>

namespace mlcanary::gateway {

RouterMirror::RouterMirror(core::TrafficControl& source, Router& router,
                           RouterMirrorOptions options)
    : source_(source), router_(router), options_(std::move(options)) {}

RouterMirror::~RouterMirror() { Stop(); }

void RouterMirror::Log(const core::Error& error) {
  if (options_.log) options_.log("inference front: " + error.ToString());
}

core::Status RouterMirror::Follow(std::string_view endpoint) {
  {
    std::lock_guard lock(mu_);
    followed_.emplace(endpoint);
  }
  return Sync(endpoint);
}

core::Status RouterMirror::Refresh() {
  std::vector<std::string> endpoints;
  {
    std::lock_guard lock(mu_);
    endpoints.assign(followed_.begin(), followed_.end());
  }
  core::Status first = core::Ok();
  for (const std::string& e : endpoints) {
    if (auto s = Sync(e); !s && first) first = s;
  }
  return first;
}

void RouterMirror::StartRefreshing(core::Duration interval) {
  if (refresher_.joinable()) return;
  refresher_ = std::thread([this, interval] {
    std::unique_lock lock(mu_);
    while (!stop_cv_.wait_for(lock, interval, [this] { return stopping_; })) {
      lock.unlock();
      (void)Refresh();  // failures are logged by Sync
      lock.lock();
    }
  });
}

void RouterMirror::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
}

core::Status RouterMirror::Sync(std::string_view endpoint) {
  std::lock_guard lock(sync_mu_);
  auto described = source_.DescribeEndpoint(endpoint);
  if (!described) {
    Log(described.error());
    return std::unexpected(described.error());
  }
  auto s = Copy(*described);
  if (!s) Log(s.error());
  return s;
}

core::Status RouterMirror::Copy(const core::Endpoint& described) {
  const std::string& name = described.name;
  auto table = router_.table();
  const EndpointRoute* route = table->Find(name);
  if (route == nullptr) {
    std::vector<std::shared_ptr<models::ModelBackend>> backends;
    for (const core::Variant& v : described.variants) {
      backends.push_back(options_.make_backend(name, v));
    }
    auto s = router_.AddEndpointWithBackends(described, std::move(backends));
    if (!s) return std::unexpected(s.error().WithContext("copying endpoint '" + name + "'"));
    return core::Ok();
  }
  std::vector<core::VariantWeight> weights;
  for (const core::Variant& v : described.variants) {
    weights.push_back({v.name, v.weight});
    if (route->Find(v.name) != nullptr) continue;
    auto s = router_.AddVariantWithBackend(name, v, options_.make_backend(name, v));
    if (!s) return std::unexpected(s.error().WithContext("copying endpoint '" + name + "'"));
  }
  std::vector<std::string> gone;
  for (const VariantRoute& r : route->variants) {
    if (described.FindVariant(r.name) != nullptr) continue;
    weights.push_back({r.name, 0});
    gone.push_back(r.name);
  }
  if (auto s = router_.SetWeights(name, weights); !s) {
    return std::unexpected(s.error().WithContext("copying the weights of endpoint '" + name + "'"));
  }
  for (const std::string& v : gone) {
    if (auto s = router_.RemoveVariant(name, v); !s) {
      return std::unexpected(s.error().WithContext("copying endpoint '" + name + "'"));
    }
  }
  return core::Ok();
}

core::Result<core::Endpoint> RouterMirror::DescribeEndpoint(std::string_view endpoint) {
  return source_.DescribeEndpoint(endpoint);
}

core::Status RouterMirror::CheckVariant(std::string_view endpoint, const core::Variant& variant) {
  return source_.CheckVariant(endpoint, variant);
}

core::Status RouterMirror::CreateVariant(std::string_view endpoint, const core::Variant& variant) {
  auto s = source_.CreateVariant(endpoint, variant);
  (void)Follow(endpoint);
  return s;
}

core::Status RouterMirror::RemoveVariant(std::string_view endpoint, std::string_view variant) {
  auto s = source_.RemoveVariant(endpoint, variant);
  (void)Follow(endpoint);
  return s;
}

core::Status RouterMirror::SetWeights(std::string_view endpoint,
                                      const std::vector<core::VariantWeight>& weights) {
  auto s = source_.SetWeights(endpoint, weights);
  (void)Follow(endpoint);
  return s;
}

}  // namespace mlcanary::gateway
