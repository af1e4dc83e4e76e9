// The `mlcanary serve` configuration reader (config/service_config.h).
//
// Input: a YAML file; relative model paths resolve against "/" (so
// "etc/passwd" is an existing model file). Invariants: nothing throws; an
// accepted configuration has valid listen addresses, a store (sqlite:,
// dynamodb: or a PostgreSQL URL), positive
// intervals and timeouts, limits in range, and endpoints with unique names
// whose variants have weights in [0, 1] summing to 1 and policies that pass
// ValidatePolicy.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "config/service_config.h"
#include "core/policy.h"
#include "fuzz_check.h"
#include "store/postgres_url.h"

namespace config = mlcanary::config;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto parsed = config::ParseServiceConfig(text, "fuzz.yaml", "/");
  if (!parsed) {
    FUZZ_CHECK(parsed.error().message().starts_with("fuzz.yaml"), "error without the file: %s",
               parsed.error().message().c_str());
    return 0;
  }
  const config::ServiceConfig& c = *parsed;
  FUZZ_CHECK(config::ValidateListenAddress(c.inference_listen).has_value(), "inference %s",
             c.inference_listen.c_str());
  FUZZ_CHECK(config::ValidateListenAddress(c.control_listen).has_value(), "control %s",
             c.control_listen.c_str());
  FUZZ_CHECK(c.store.starts_with("sqlite:") || c.store.starts_with("dynamodb:") ||
                 mlcanary::store::IsPostgresUrl(c.store),
             "store %s", c.store.c_str());
  FUZZ_CHECK(c.controller_interval.count() > 0, "controller interval");
  FUZZ_CHECK(c.aws.timeout.count() > 0, "aws timeout");
  FUZZ_CHECK(c.aws.max_attempts >= 0 && c.aws.max_attempts <= 10, "max_attempts");
  FUZZ_CHECK(c.sagemaker.poll_interval.count() > 0 && c.sagemaker.wait_timeout.count() > 0,
             "sagemaker intervals");
  const auto& a = c.sagemaker.autoscaling;
  FUZZ_CHECK(a.min_capacity >= 1 && a.min_capacity <= a.max_capacity, "capacities");
  FUZZ_CHECK(
      a.target_invocations_per_instance > 0 && std::isfinite(a.target_invocations_per_instance),
      "target invocations");
  FUZZ_CHECK(a.scale_in_cooldown.count() >= 0 && a.scale_out_cooldown.count() >= 0, "cooldowns");
  FUZZ_CHECK(c.gateway_threads >= 0 && c.gateway_threads <= 256, "threads");
  FUZZ_CHECK(c.max_body_bytes >= 1024, "max_body_bytes");
  for (const std::string& url : c.webhooks) FUZZ_CHECK(url.starts_with("http://"), "webhook");

  FUZZ_CHECK(!c.endpoints.empty(), "no endpoints");
  std::set<std::string> names;
  for (const config::EndpointConfig& e : c.endpoints) {
    FUZZ_CHECK(!e.name.empty() && names.insert(e.name).second, "endpoint name '%s'",
               e.name.c_str());
    const auto valid = mlcanary::core::ValidatePolicy(e.policy);
    FUZZ_CHECK(valid.has_value(), "%s policy: %s", e.name.c_str(),
               valid.error().ToString().c_str());
    if (c.backend == config::Backend::kSagemaker) {
      FUZZ_CHECK(e.variants.empty(), "sagemaker endpoint with variants");
      continue;
    }
    FUZZ_CHECK(!e.variants.empty(), "endpoint without variants");
    double sum = 0;
    for (const auto& v : e.variants) {
      FUZZ_CHECK(!v.name.empty(), "empty variant name");
      FUZZ_CHECK(v.weight >= 0 && v.weight <= 1, "weight %g", v.weight);
      FUZZ_CHECK(v.instances >= 1 && v.instances <= 64, "instances %d", v.instances);
      sum += v.weight;
    }
    FUZZ_CHECK(std::fabs(sum - 1) <= 1e-6, "weights sum to %g", sum);
  }
  return 0;
}
