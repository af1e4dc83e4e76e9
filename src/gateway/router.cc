// Router: copy-on-write routing tables behind an atomic shared_ptr.
#include "gateway/router.h"

#include <algorithm>
#include <set>
#include <utility>

#include "core/traffic_weights.h"
#include "metrics/registry.h"

namespace mlcanary::gateway {
namespace {

// Lays the variants' segments out on [0, 1), newest first.
void LayOut(EndpointRoute& endpoint) {
  double at = 0;
  VariantRoute* last = nullptr;
  for (auto it = endpoint.variants.rbegin(); it != endpoint.variants.rend(); ++it) {
    it->lower = at;
    at += it->weight;
    it->upper = at;
    if (it->weight > 0) last = &*it;
  }
  // Rounding must not leave a sliver of [0, 1) without a variant.
  if (last != nullptr) last->upper = 1.0;
}

core::Status ValidateVariantName(std::string_view name) {
  if (name.empty()) return core::ValidationError("variant name must not be empty");
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x21 || c == '/' || c == '"' || c == '\\') {
      return core::ValidationError("variant name '" + std::string(name) +
                                   "' may not contain spaces, quotes, slashes or controls");
    }
  }
  return core::Ok();
}

}  // namespace

std::uint64_t DefaultUserHash(std::string_view user_id) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64
  for (char c : user_id) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  // MurmurHash3's fmix64: FNV alone leaves the top bits poorly mixed.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

const VariantRoute* EndpointRoute::Find(std::string_view variant) const {
  for (const auto& v : variants) {
    if (v.name == variant) return &v;
  }
  return nullptr;
}

const VariantRoute* EndpointRoute::Pick(double point) const {
  for (const auto& v : variants) {
    if (v.weight > 0 && point >= v.lower && point < v.upper) return &v;
  }
  return nullptr;
}

core::Endpoint EndpointRoute::Describe() const {
  core::Endpoint out;
  out.name = name;
  out.status = core::EndpointStatus::kInService;
  for (const auto& v : variants) {
    out.variants.push_back(core::Variant{
        .name = v.name, .weight = v.weight, .instances = v.instances, .model = v.model});
  }
  return out;
}

const EndpointRoute* RoutingTable::Find(std::string_view endpoint) const {
  auto it = endpoints.find(endpoint);
  return it == endpoints.end() ? nullptr : &it->second;
}

Router::Router(RouterOptions options, models::ModelBackendFactory factory,
               metrics::MetricsRegistry* metrics)
    : options_(std::move(options)),
      factory_(std::move(factory)),
      metrics_(metrics),
      table_(std::make_shared<const RoutingTable>()) {}

void Router::Publish(std::shared_ptr<RoutingTable> table) {
  table->any_shadow = std::any_of(table->endpoints.begin(), table->endpoints.end(),
                                  [](const auto& e) { return e.second.shadow.has_value(); });
  table_.store(std::shared_ptr<const RoutingTable>(std::move(table)));
}

core::Result<const VariantRoute*> Router::Route(const RoutingTable& table,
                                                std::string_view endpoint,
                                                std::string_view target_variant,
                                                std::string_view user_id,
                                                std::uint64_t random_bits) const {
  const EndpointRoute* route = table.Find(endpoint);
  if (route == nullptr) {
    return core::NotFoundError("endpoint '" + std::string(endpoint) + "' does not exist");
  }
  if (!target_variant.empty()) {
    const VariantRoute* v = route->Find(target_variant);
    if (v == nullptr) {
      return core::NotFoundError("variant '" + std::string(target_variant) +
                                 "' does not exist on endpoint '" + route->name + "'");
    }
    return v;
  }
  const std::uint64_t bits =
      options_.sticky && !user_id.empty() ? options_.user_hash(user_id) : random_bits;
  const VariantRoute* v = route->Pick(UnitInterval(bits));
  if (v == nullptr) {
    return core::MakeError(core::ErrorCode::kUnavailable,
                           "endpoint '" + route->name + "' has no variant with traffic");
  }
  return v;
}

bool Router::Ready() const {
  auto table = table_.load();
  for (const auto& [name, endpoint] : table->endpoints) {
    bool ready = false;
    for (const auto& v : endpoint.variants) ready = ready || (v.weight > 0 && v.backend->ready());
    if (!ready) return false;
  }
  return true;
}

core::Result<std::shared_ptr<models::ModelBackend>> Router::LoadModel(
    std::string_view endpoint, const core::Variant& variant) {
  if (!factory_) return core::InternalError("router has no model backend factory");
  auto backend = factory_(variant.model);
  if (!backend) {
    return std::unexpected(backend.error().WithContext(
        "variant '" + variant.name + "' of endpoint '" + std::string(endpoint) + "'"));
  }
  return std::shared_ptr<models::ModelBackend>(std::move(*backend));
}

core::Status Router::CheckNewEndpoint(const core::Endpoint& endpoint) const {
  if (endpoint.name.empty()) return core::ValidationError("endpoint name must not be empty");
  if (endpoint.variants.empty()) {
    return core::ValidationError("endpoint '" + endpoint.name + "' needs a variant");
  }
  std::set<std::string, std::less<>> names;
  std::vector<core::VariantWeight> weights;
  for (const auto& v : endpoint.variants) {
    if (auto s = ValidateVariantName(v.name); !s) return s;
    if (!names.insert(v.name).second) {
      return core::ValidationError("variant '" + v.name + "' appears twice");
    }
    if (v.instances < 1) return core::ValidationError("instances must be at least 1");
    weights.push_back({v.name, v.weight});
  }
  // The whole set as if requested for the endpoint: each in [0, 1], summing to 1.
  if (auto s = core::ValidateWeights(endpoint.name, weights, weights); !s) return s;
  if (table_.load()->Find(endpoint.name) != nullptr) {
    return core::ConflictError("endpoint '" + endpoint.name + "' already exists");
  }
  return core::Ok();
}

core::Status Router::AddEndpoint(const core::Endpoint& endpoint) {
  if (auto s = CheckNewEndpoint(endpoint); !s) return s;
  // Load every model before taking the lock: loading may be slow.
  std::vector<std::shared_ptr<models::ModelBackend>> backends;
  for (const auto& v : endpoint.variants) {
    auto backend = LoadModel(endpoint.name, v);
    if (!backend) return std::unexpected(backend.error());
    backends.push_back(std::move(*backend));
  }
  return InsertEndpoint(endpoint, std::move(backends));
}

core::Status Router::AddEndpointWithBackends(
    const core::Endpoint& endpoint, std::vector<std::shared_ptr<models::ModelBackend>> backends) {
  if (auto s = CheckNewEndpoint(endpoint); !s) return s;
  if (backends.size() != endpoint.variants.size()) {
    return core::ValidationError("endpoint '" + endpoint.name +
                                 "': " + std::to_string(endpoint.variants.size()) + " variants, " +
                                 std::to_string(backends.size()) + " backends");
  }
  for (const auto& b : backends) {
    if (b == nullptr) return core::ValidationError("no backend");
  }
  return InsertEndpoint(endpoint, std::move(backends));
}

core::Status Router::InsertEndpoint(const core::Endpoint& endpoint,
                                    std::vector<std::shared_ptr<models::ModelBackend>> backends) {
  EndpointRoute route;
  route.name = endpoint.name;
  for (std::size_t i = 0; i < endpoint.variants.size(); ++i) {
    const core::Variant& v = endpoint.variants[i];
    route.variants.push_back(VariantRoute{.name = v.name,
                                          .weight = v.weight,
                                          .instances = v.instances,
                                          .model = v.model,
                                          .backend = std::move(backends[i])});
  }
  LayOut(route);
  std::lock_guard lock(write_mu_);
  auto table = std::make_shared<RoutingTable>(*table_.load());
  if (table->endpoints.contains(endpoint.name)) {
    return core::ConflictError("endpoint '" + endpoint.name + "' already exists");
  }
  // Recorders only for an endpoint that is added: none left in the registry
  // (and on /metrics) by a refused one.
  if (metrics_ != nullptr) {
    for (auto& v : route.variants) v.metrics = metrics_->Variant(endpoint.name, v.name);
  }
  table->endpoints.emplace(endpoint.name, std::move(route));
  Publish(std::move(table));
  return core::Ok();
}

core::Result<core::Endpoint> Router::DescribeEndpoint(std::string_view endpoint) {
  auto table = table_.load();
  const EndpointRoute* route = table->Find(endpoint);
  if (route == nullptr) {
    return core::NotFoundError("endpoint '" + std::string(endpoint) + "' does not exist");
  }
  return route->Describe();
}

core::Status Router::CheckVariant(std::string_view /*endpoint*/, const core::Variant& variant) {
  if (auto s = ValidateVariantName(variant.name); !s) return s;
  if (variant.instances < 1) return core::ValidationError("instances must be at least 1");
  if (variant.model.kind == core::ModelKind::kSagemaker) {
    return core::ValidationError(
        "a sagemaker model is served by SageMaker, not by the gateway (backend: sagemaker)");
  }
  return core::Ok();
}

core::Status Router::CreateVariant(std::string_view endpoint, const core::Variant& variant) {
  if (auto s = CheckVariant(endpoint, variant); !s) return s;
  {
    auto table = table_.load();
    const EndpointRoute* route = table->Find(endpoint);
    if (route == nullptr) {
      return core::NotFoundError("endpoint '" + std::string(endpoint) + "' does not exist");
    }
    if (route->Find(variant.name) != nullptr) {
      return core::ConflictError("variant '" + variant.name + "' already exists on endpoint '" +
                                 std::string(endpoint) + "'");
    }
  }
  // The model is loaded and ready before the variant is in any table.
  auto backend = LoadModel(endpoint, variant);
  if (!backend) return std::unexpected(backend.error());
  return InsertVariant(endpoint, variant, std::move(*backend));
}

core::Status Router::AddVariantWithBackend(std::string_view endpoint, const core::Variant& variant,
                                           std::shared_ptr<models::ModelBackend> backend) {
  if (auto s = ValidateVariantName(variant.name); !s) return s;
  if (backend == nullptr) return core::ValidationError("no backend");
  return InsertVariant(endpoint, variant, std::move(backend));
}

core::Status Router::InsertVariant(std::string_view endpoint, const core::Variant& variant,
                                   std::shared_ptr<models::ModelBackend> backend) {
  std::lock_guard lock(write_mu_);
  auto table = std::make_shared<RoutingTable>(*table_.load());
  auto it = table->endpoints.find(endpoint);
  if (it == table->endpoints.end()) {
    return core::NotFoundError("endpoint '" + std::string(endpoint) + "' does not exist");
  }
  EndpointRoute& route = it->second;
  if (route.Find(variant.name) != nullptr) {
    return core::ConflictError("variant '" + variant.name + "' already exists on endpoint '" +
                               std::string(endpoint) + "'");
  }
  route.variants.push_back(VariantRoute{
      .name = variant.name,
      .weight = 0,  // a new variant gets traffic only through SetWeights
      .instances = variant.instances,
      .model = variant.model,
      .backend = std::move(backend),
      .metrics = metrics_ != nullptr ? metrics_->Variant(endpoint, variant.name) : nullptr});
  LayOut(route);
  Publish(std::move(table));
  return core::Ok();
}

core::Status Router::RemoveVariant(std::string_view endpoint, std::string_view variant) {
  std::lock_guard lock(write_mu_);
  auto table = std::make_shared<RoutingTable>(*table_.load());
  auto it = table->endpoints.find(endpoint);
  if (it == table->endpoints.end()) {
    return core::NotFoundError("endpoint '" + std::string(endpoint) + "' does not exist");
  }
  EndpointRoute& route = it->second;
  auto v = std::find_if(route.variants.begin(), route.variants.end(),
                        [&](const VariantRoute& r) { return r.name == variant; });
  if (v == route.variants.end()) {
    return core::NotFoundError("variant '" + std::string(variant) +
                               "' does not exist on endpoint '" + std::string(endpoint) + "'");
  }
  if (v->weight > 0) {
    return core::FailedPreconditionError("variant '" + std::string(variant) +
                                         "' still has weight " + std::to_string(v->weight) +
                                         "; move its traffic first");
  }
  route.variants.erase(v);
  if (route.shadow && (route.shadow->variant == variant || route.shadow->mirror_to == variant)) {
    route.shadow.reset();
  }
  LayOut(route);
  Publish(std::move(table));
  // The registry lets go of the recorder too: it is freed when the last
  // request routed by an older table is done.
  if (metrics_ != nullptr) metrics_->RemoveVariant(endpoint, variant);
  return core::Ok();
}

core::Status Router::SetWeights(std::string_view endpoint,
                                const std::vector<core::VariantWeight>& weights) {
  std::lock_guard lock(write_mu_);
  auto table = std::make_shared<RoutingTable>(*table_.load());
  auto it = table->endpoints.find(endpoint);
  if (it == table->endpoints.end()) {
    return core::NotFoundError("endpoint '" + std::string(endpoint) + "' does not exist");
  }
  EndpointRoute& route = it->second;
  std::vector<core::VariantWeight> current;
  for (const auto& v : route.variants) current.push_back({v.name, v.weight});
  auto next = core::ApplyWeights(endpoint, current, weights);  // same order as current
  if (!next) return std::unexpected(next.error());
  for (std::size_t i = 0; i < route.variants.size(); ++i) {
    route.variants[i].weight = (*next)[i].weight;
  }
  LayOut(route);
  Publish(std::move(table));
  return core::Ok();
}

std::optional<core::ShadowSpec> Router::DescribeShadow(std::string_view endpoint) {
  const std::shared_ptr<const RoutingTable> table = table_.load();
  const EndpointRoute* route = table->Find(endpoint);
  return route != nullptr ? route->shadow : std::nullopt;
}

std::optional<std::size_t> Router::ModelOutputs(std::string_view endpoint,
                                                const core::Variant& variant) {
  {
    const std::shared_ptr<const RoutingTable> table = table_.load();
    const EndpointRoute* route = table->Find(endpoint);
    if (route == nullptr) return std::nullopt;
    if (const VariantRoute* v = route->Find(variant.name); v != nullptr && v->backend != nullptr) {
      return v->backend->num_outputs();
    }
  }
  // Only an in-process model is loaded to ask (an http model's server is not called).
  if (variant.model.kind != core::ModelKind::kXgboost) return std::nullopt;
  auto backend = LoadModel(endpoint, variant);
  if (!backend) return std::nullopt;
  return (*backend)->num_outputs();
}

core::Status Router::SetShadow(std::string_view endpoint,
                               const std::optional<core::ShadowSpec>& spec) {
  std::lock_guard lock(write_mu_);
  auto table = std::make_shared<RoutingTable>(*table_.load());
  auto it = table->endpoints.find(endpoint);
  if (it == table->endpoints.end()) {
    return core::NotFoundError("endpoint '" + std::string(endpoint) + "' does not exist");
  }
  if (spec) {
    if (it->second.Find(spec->variant) == nullptr) {
      return core::NotFoundError("shadow variant '" + spec->variant +
                                 "' does not exist on endpoint '" + std::string(endpoint) + "'");
    }
    if (!spec->mirror_to.empty() &&
        (spec->mirror_to == spec->variant || it->second.Find(spec->mirror_to) == nullptr)) {
      return core::NotFoundError("mirror variant '" + spec->mirror_to +
                                 "' is not another variant of endpoint '" + std::string(endpoint) +
                                 "'");
    }
    if (!(spec->sample > 0 && spec->sample <= 1)) {
      return core::ValidationError("shadow.sample: " + std::to_string(spec->sample) +
                                   " must be in (0, 1]");
    }
    if (!(spec->tolerance >= 0)) {
      return core::ValidationError("divergence_tolerance: must be a finite number >= 0");
    }
  }
  if (it->second.shadow == spec) return core::Ok();  // as it is: no new table
  it->second.shadow = spec;
  Publish(std::move(table));
  return core::Ok();
}

}  // namespace mlcanary::gateway
