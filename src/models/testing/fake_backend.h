// FakeBackend: a ModelBackend that answers `value` for every row (or a set
// error), counts its calls, and checks the feature count when given one.
#ifndef MLCANARY_MODELS_TESTING_FAKE_BACKEND_H_
#define MLCANARY_MODELS_TESTING_FAKE_BACKEND_H_

#include <atomic>
#include <mutex>
#include <optional>
#include <string>

#include "models/model_backend.h"

namespace mlcanary::models::testing {

class FakeBackend final : public ModelBackend {
 public:
  explicit FakeBackend(std::string name, float value = 0.5f,
                       std::optional<std::size_t> features = std::nullopt,
                       std::optional<std::size_t> outputs = std::nullopt)
      : name_(std::move(name)), value_(value), features_(features), outputs_(outputs) {}

  void PredictAsync(const FeatureRows& rows, PredictCallback done) override {
    calls_.fetch_add(1, std::memory_order_relaxed);
    std::optional<core::Error> error;
    {
      std::lock_guard lock(mu_);
      error = error_;
    }
    if (error) return done(std::unexpected(*error));
    if (features_ && rows.cols != *features_) {
      return done(core::ValidationError("model '" + name_ + "' expects " +
                                        std::to_string(*features_) + " features, got " +
                                        std::to_string(rows.cols)));
    }
    done(Predictions{std::vector<float>(rows.rows, value_), rows.rows, 1});
  }
  std::optional<std::size_t> num_features() const override { return features_; }
  // What it says it answers (it answers one output per row whatever this says).
  std::optional<std::size_t> num_outputs() const override { return outputs_; }
  bool ready() const override { return ready_.load(); }
  const std::string& name() const override { return name_; }

  void set_error(std::optional<core::Error> error) {
    std::lock_guard lock(mu_);
    error_ = std::move(error);
  }
  void set_ready(bool ready) { ready_ = ready; }
  int calls() const { return calls_.load(); }

 private:
  const std::string name_;
  const float value_;
  const std::optional<std::size_t> features_;
  const std::optional<std::size_t> outputs_;
  std::atomic<bool> ready_{true};
  std::atomic<int> calls_{0};
  std::mutex mu_;
  std::optional<core::Error> error_;  // GUARDED_BY(mu_)
};

}  // namespace mlcanary::models::testing

#endif  // MLCANARY_MODELS_TESTING_FAKE_BACKEND_H_
