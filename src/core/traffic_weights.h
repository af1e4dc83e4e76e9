// The weight contract of the TrafficControl port (ports.h), in one place:
// every TrafficControl checks a SetWeights request with ValidateWeights (or
// ValidateWeightRequest first) and applies it with ApplyWeights, so the gateway, the simulator and
// SageMaker refuse the same sets with the same messages.
#ifndef MLCANARY_CORE_TRAFFIC_WEIGHTS_H_
#define MLCANARY_CORE_TRAFFIC_WEIGHTS_H_

#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/ports.h"

namespace mlcanary::core {

// How far from 1 the endpoint's weights may sum (rounding of decimal weights).
inline constexpr double kWeightSumTolerance = 1e-6;

// The checks of a SetWeights request that need nothing of the endpoint, so
// that a remote implementation can refuse it before asking for the endpoint.
// In this order over the whole request, the first refusal wins:
//   - no weight given                              -> kValidation
//   - a variant named twice                        -> kValidation
//   - a weight NaN, infinite, below 0 or above 1   -> kValidation
Status ValidateWeightRequest(std::string_view endpoint,
                             const std::vector<VariantWeight>& requested);

// Checks a SetWeights request: `requested` against the endpoint's `current`
// weights (every variant of `endpoint`, as DescribeEndpoint gives them).
// ValidateWeightRequest, then
//   - a variant the endpoint does not have         -> kNotFound
//   - the endpoint's weights once the request is applied (variants not named
//     keep theirs) not summing to 1 within kWeightSumTolerance -> kValidation
// Each message is one line naming the endpoint and what is wrong (the variant,
// the weight, the sum with every variant's weight).
Status ValidateWeights(std::string_view endpoint, const std::vector<VariantWeight>& current,
                       const std::vector<VariantWeight>& requested);

// The endpoint's weights once `requested` is applied: ValidateWeights, then
// `current` (same order) with the named variants' weights replaced. A refused
// request changes nothing: the caller stores the result only when it is a value.
Result<std::vector<VariantWeight>> ApplyWeights(std::string_view endpoint,
                                                const std::vector<VariantWeight>& current,
                                                const std::vector<VariantWeight>& requested);

}  // namespace mlcanary::core

#endif  // MLCANARY_CORE_TRAFFIC_WEIGHTS_H_
