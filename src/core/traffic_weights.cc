// ValidateWeightRequest, ValidateWeights and ApplyWeights: the TrafficControl
// port's weight rules.
#include "core/traffic_weights.h"

#include <charconv>
#include <cmath>
#include <string>

namespace mlcanary::core {
namespace {

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

// Nine significant digits: enough to show a sum that is off by the tolerance.
std::string Number(double x) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::general, 9);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(x);
}

const VariantWeight* Find(const std::vector<VariantWeight>& weights, std::string_view variant) {
  for (const auto& w : weights) {
    if (w.variant == variant) return &w;
  }
  return nullptr;
}

}  // namespace

Status ValidateWeightRequest(std::string_view endpoint,
                             const std::vector<VariantWeight>& requested) {
  const std::string of_endpoint = " of endpoint " + Quote(endpoint);
  if (requested.empty()) return ValidationError("no weights given for endpoint " + Quote(endpoint));
  for (std::size_t i = 0; i < requested.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (requested[j].variant == requested[i].variant) {
        return ValidationError("variant " + Quote(requested[i].variant) + of_endpoint +
                               " is named twice");
      }
    }
  }
  for (const VariantWeight& w : requested) {
    if (!std::isfinite(w.weight) || w.weight < 0 || w.weight > 1) {
      return ValidationError("weight of variant " + Quote(w.variant) + of_endpoint +
                             " must be in [0, 1], got " + Number(w.weight));
    }
  }
  return Ok();
}

Status ValidateWeights(std::string_view endpoint, const std::vector<VariantWeight>& current,
                       const std::vector<VariantWeight>& requested) {
  if (auto s = ValidateWeightRequest(endpoint, requested); !s) return s;
  for (const VariantWeight& w : requested) {
    if (Find(current, w.variant) == nullptr) {
      return NotFoundError("variant " + Quote(w.variant) + " does not exist on endpoint " +
                           Quote(endpoint));
    }
  }
  double sum = 0;
  std::string listing;
  for (const VariantWeight& v : current) {
    const VariantWeight* named = Find(requested, v.variant);
    const double w = named != nullptr ? named->weight : v.weight;
    sum += w;
    listing += (listing.empty() ? "" : ", ") + v.variant + " " + Number(w);
  }
  if (!(std::fabs(sum - 1.0) <= kWeightSumTolerance)) {
    return ValidationError("weights of endpoint " + Quote(endpoint) +
                           " must sum to 1, they sum to " + Number(sum) + " (" + listing + ")");
  }
  return Ok();
}

Result<std::vector<VariantWeight>> ApplyWeights(std::string_view endpoint,
                                                const std::vector<VariantWeight>& current,
                                                const std::vector<VariantWeight>& requested) {
  if (auto s = ValidateWeights(endpoint, current, requested); !s) {
    return std::unexpected(s.error());
  }
  std::vector<VariantWeight> next = current;
  for (VariantWeight& v : next) {
    if (const VariantWeight* named = Find(requested, v.variant)) v.weight = named->weight;
  }
  return next;
}

}  // namespace mlcanary::core
