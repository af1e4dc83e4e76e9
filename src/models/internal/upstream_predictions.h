// Reading a model server's JSON answer: a fast path for the common
// {"predictions": [n, ...]} shape and the general Boost.JSON reader.
#ifndef MLCANARY_MODELS_INTERNAL_UPSTREAM_PREDICTIONS_H_
#define MLCANARY_MODELS_INTERNAL_UPSTREAM_PREDICTIONS_H_

#include <cstddef>
#include <string_view>

#include "core/error.h"
#include "models/model_backend.h"

namespace mlcanary::models::internal {

// Reads `body` when it is exactly {"predictions": [n1, ..., n_rows]} (JSON
// whitespace allowed, plain JSON numbers that fit a double), into `out`.
// Returns false, leaving `out` unspecified, for anything else (other keys,
// nested values, a wrong count, bad JSON): the caller then uses
// ParseJsonPredictions, which reads or refuses it with the reason. Where both
// read a body, they agree.
bool ParsePredictionsFast(std::string_view body, std::size_t rows, Predictions& out);

// The general reader (Boost.JSON): {"predictions": [...]} or a bare array, whose
// entries are numbers, arrays of numbers, or objects with a numeric "score".
// kModelError naming what is wrong otherwise.
core::Result<Predictions> ParseJsonPredictions(std::string_view body, std::size_t rows);

}  // namespace mlcanary::models::internal

#endif  // MLCANARY_MODELS_INTERNAL_UPSTREAM_PREDICTIONS_H_
