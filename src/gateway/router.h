// The router: which variant of an endpoint serves a request. Holds every
// endpoint's variants, weights, loaded models and metrics recorders in an
// immutable routing table that is swapped whole; implements core::TrafficControl.
#ifndef MLCANARY_GATEWAY_ROUTER_H_
#define MLCANARY_GATEWAY_ROUTER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/ports.h"
#include "core/types.h"
#include "models/model_backend.h"

namespace mlcanary::metrics {
class MetricsRegistry;
class VariantMetrics;
}  // namespace mlcanary::metrics

namespace mlcanary::gateway {

// A stable 64-bit hash of a user id (FNV-1a, then a 64-bit finalizer that
// spreads every input bit): the same on every replica and every run, so a user
// lands on the same variant whichever gateway serves it.
std::uint64_t DefaultUserHash(std::string_view user_id);

// Maps 64 random or hashed bits to a point in [0, 1) (the top 53 bits).
constexpr double UnitInterval(std::uint64_t bits) {
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

struct VariantRoute {
  std::string name;
  double weight = 0;
  // The variant's share of [0, 1): requests whose point falls in
  // [lower, upper) go to it. The newest variant's segment starts at 0, so a
  // canary's segment only grows with its weight and its users stay on it.
  double lower = 0;
  double upper = 0;
  int instances = 1;
  core::ModelSpec model;
  std::shared_ptr<models::ModelBackend> backend;
  // Shared with the registry; null without one. A request holds its table,
  // so the recorder outlives every request routed to it (recording does not
  // touch the count), and a removed variant's recorder is freed with the last
  // table that names it.
  std::shared_ptr<metrics::VariantMetrics> metrics;
};

struct EndpointRoute {
  std::string name;
  std::vector<VariantRoute> variants;  // in the order they were created
  // A shadow copy of the endpoint's traffic to one of its variants (SetShadow).
  std::optional<core::ShadowSpec> shadow;

  const VariantRoute* Find(std::string_view variant) const;
  // The variant whose segment holds `point` (in [0, 1)); null when no variant
  // has weight.
  const VariantRoute* Pick(double point) const;
  core::Endpoint Describe() const;
};

// Immutable once published: readers share it without locks.
struct RoutingTable {
  std::map<std::string, EndpointRoute, std::less<>> endpoints;
  bool any_shadow = false;  // some endpoint has a shadow: the request path looks only then
  const EndpointRoute* Find(std::string_view endpoint) const;
};

struct RouterOptions {
  // Route requests that carry a user_id by its hash (sticky); random otherwise.
  bool sticky = true;
  std::function<std::uint64_t(std::string_view)> user_hash = DefaultUserHash;
};

// Thread-safe. Routing reads the current table (one atomic load) and never
// blocks; changes (AddEndpoint, TrafficControl) are serialized among themselves,
// build a new table and publish it in one atomic store, so a request sees the
// old or the new weights, never a mix. A request keeps its table -- and the
// models and metrics recorders in it -- alive until it is done, so removing a
// variant never breaks a request in flight, and frees what it held after it.
class Router final : public core::TrafficControl {
 public:
  // `metrics` may be null (no recording); otherwise it must outlive the router.
  Router(RouterOptions options, models::ModelBackendFactory factory,
         metrics::MetricsRegistry* metrics);

  // Adds an endpoint with its variants, every model loaded and ready first.
  // Weights as core::ValidateWeights wants them (each in [0, 1], summing to 1);
  // names unique and not empty.
  core::Status AddEndpoint(const core::Endpoint& endpoint);
  // The same with the variants' backends already built, in endpoint.variants'
  // order: for backends that a factory cannot make from a ModelSpec alone (a
  // SageMaker variant is served by an InvokeEndpoint naming it).
  core::Status AddEndpointWithBackends(const core::Endpoint& endpoint,
                                       std::vector<std::shared_ptr<models::ModelBackend>> backends);
  // Adds a variant whose backend is already built (for tests and embedding).
  core::Status AddVariantWithBackend(std::string_view endpoint, const core::Variant& variant,
                                     std::shared_ptr<models::ModelBackend> backend);

  std::shared_ptr<const RoutingTable> table() const { return table_.load(); }

  // The variant for one request on `table`: the target variant when named
  // (any weight; NotFound if unknown), else the variant holding the user's hash
  // point (sticky, when the user_id is not empty), else the one holding the
  // random point. NotFound for an unknown endpoint, Unavailable when no
  // variant has weight.
  core::Result<const VariantRoute*> Route(const RoutingTable& table, std::string_view endpoint,
                                          std::string_view target_variant, std::string_view user_id,
                                          std::uint64_t random_bits) const;

  // True when every endpoint has a ready variant with traffic (GET /ping).
  bool Ready() const;

  // core::TrafficControl
  core::Result<core::Endpoint> DescribeEndpoint(std::string_view endpoint) override;
  core::Status CheckVariant(std::string_view endpoint, const core::Variant& variant) override;
  core::Status CreateVariant(std::string_view endpoint, const core::Variant& variant) override;
  core::Status RemoveVariant(std::string_view endpoint, std::string_view variant) override;
  core::Status SetWeights(std::string_view endpoint,
                          const std::vector<core::VariantWeight>& weights) override;
  // The variant must exist; sample in (0, 1], tolerance >= 0 (kValidation
  // naming the field otherwise). Removing the shadowed variant stops the shadow.
  core::Status SetShadow(std::string_view endpoint,
                         const std::optional<core::ShadowSpec>& spec) override;
  bool SupportsShadow() const override { return true; }
  std::optional<core::ShadowSpec> DescribeShadow(std::string_view endpoint) override;
  // The variant's backend's num_outputs(); a variant not on the endpoint yet
  // with an xgboost model has it loaded (and dropped) to ask; other kinds: nullopt.
  std::optional<std::size_t> ModelOutputs(std::string_view endpoint,
                                          const core::Variant& variant) override;

 private:
  // REQUIRES: write_mu_ is held.
  void Publish(std::shared_ptr<RoutingTable> table);
  core::Result<std::shared_ptr<models::ModelBackend>> LoadModel(std::string_view endpoint,
                                                                const core::Variant& variant);
  core::Status CheckNewEndpoint(const core::Endpoint& endpoint) const;
  core::Status InsertEndpoint(const core::Endpoint& endpoint,
                              std::vector<std::shared_ptr<models::ModelBackend>> backends);
  core::Status InsertVariant(std::string_view endpoint, const core::Variant& variant,
                             std::shared_ptr<models::ModelBackend> backend);

  const RouterOptions options_;
  const models::ModelBackendFactory factory_;
  metrics::MetricsRegistry* const metrics_;
  std::mutex write_mu_;  // serializes changes; never taken by routing
  std::atomic<std::shared_ptr<const RoutingTable>> table_;
};

}  // namespace mlcanary::gateway

#endif  // MLCANARY_GATEWAY_ROUTER_H_
