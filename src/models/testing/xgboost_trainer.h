// Trains small XGBoost models on synthetic data with a known signal, for tests
// and the example models (examples/models/).
#ifndef MLCANARY_MODELS_TESTING_XGBOOST_TRAINER_H_
#define MLCANARY_MODELS_TESTING_XGBOOST_TRAINER_H_

#include <cstdint>
#include <string>

#include "core/error.h"

namespace mlcanary::models::testing {

struct TrainOptions {
  int rows = 400;
  int features = 8;
  int trees = 10;
  int max_depth = 3;
  std::uint64_t seed = 1;
  // Learning rate and the smallest hessian sum a leaf may hold: a small eta and
  // min_child_weight 0 keep deep trees growing after the fit converges (the
  // slow example model needs every tree to reach max_depth).
  double eta = 0.3;
  double min_child_weight = 1.0;
  // "gbtree" or "dart" (whose trees XGBoost predicts one at a time: slow).
  std::string booster = "gbtree";
  // Multi-class (multi:softprob, this many outputs per row) when > 1: the class
  // is the signal cut into num_class equal bands.
  int num_class = 0;
  // Features swapped in the training data (both >= 0 and < features): a model
  // trained as another but with two columns exchanged -- the feature-order bug
  // the paired divergence check finds. -1: none.
  int swap_a = -1;
  int swap_b = -1;
};

// Labels are 1 when 2*x0 - x1 + 0.5*x2 + noise > 0.75 (x uniform in [0,1)), so
// a model's predictions rise with x0. Saves a binary:logistic model to `path`
// (.json or .ubj, by extension).
core::Status TrainSyntheticModel(const std::string& path, const TrainOptions& options);

}  // namespace mlcanary::models::testing

#endif  // MLCANARY_MODELS_TESTING_XGBOOST_TRAINER_H_
