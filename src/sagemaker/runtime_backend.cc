// SageMakerRuntime: InvokeEndpoint per variant on a pool of worker threads.
#include "sagemaker/runtime_backend.h"

#include <boost/json/parse.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "core/backoff.h"
#include "core/types.h"
#include "models/http_backend.h"

namespace mlcanary::sagemaker {
namespace {

using Clock = std::chrono::steady_clock;

// One request waiting for a worker.
struct Task {
  std::string endpoint;
  std::string variant;
  std::vector<float> values;
  std::size_t rows = 0;
  std::size_t cols = 0;
  models::PredictCallback done;
};

// The model's own words from a ModelError body: {"OriginalMessage": "...",
// "OriginalStatusCode": 400, "Message": "Received client error (400) from ..."}.
std::string ModelMessage(const aws::AwsErrorDetail& detail) {
  boost::system::error_code ec;
  const boost::json::value body = boost::json::parse(detail.body, ec);
  if (!ec && body.is_object()) {
    const auto& obj = body.get_object();
    const auto* original = obj.if_contains("OriginalMessage");
    if (original != nullptr && original->is_string() && !original->get_string().empty()) {
      std::string out(original->get_string());
      if (const auto* status = obj.if_contains("OriginalStatusCode");
          status != nullptr && status->is_int64()) {
        out += " (model status " + std::to_string(status->get_int64()) + ")";
      }
      return out;
    }
  }
  return detail.message.empty() ? "the model failed" : detail.message;
}

}  // namespace

core::Status ValidateRuntimeOptions(const RuntimeOptions& o) {
  if (o.timeout.count() <= 0) return core::ValidationError("inference timeout must be positive");
  for (const auto& [variant, timeout] : o.variant_timeouts) {
    if (timeout.count() <= 0) {
      return core::ValidationError("inference timeout of variant '" + variant +
                                   "' must be positive");
    }
  }
  if (o.max_attempts < 1 || o.max_attempts > 10) {
    return core::ValidationError("inference max_attempts must be in [1, 10]");
  }
  if (o.threads < 1 || o.threads > 1024) {
    return core::ValidationError("inference threads must be in [1, 1024]");
  }
  if (o.max_queued < 1) return core::ValidationError("inference max_queued must be at least 1");
  return core::Ok();
}

struct SageMakerRuntime::Impl {
  std::unique_ptr<aws::AwsClient> client;
  RuntimeOptions options;

  std::mutex mu;
  std::condition_variable wake;
  std::deque<Task> queue;  // GUARDED_BY(mu)
  bool stopping = false;   // GUARDED_BY(mu)
  std::mt19937_64 rng;     // GUARDED_BY(mu)
  std::vector<std::thread> workers;

  std::uint64_t RandomBits() {
    if (options.random_bits) return options.random_bits();
    std::lock_guard lock(mu);
    return rng();
  }

  core::Duration TimeoutFor(std::string_view variant) const {
    auto it = options.variant_timeouts.find(variant);
    return it == options.variant_timeouts.end() ? options.timeout : it->second;
  }

  core::Result<models::Predictions> Invoke(std::string_view endpoint, std::string_view variant,
                                           const models::FeatureRows& rows) {
    const core::Duration budget = TimeoutFor(variant);
    const auto deadline = Clock::now() + budget;
    aws::RestRequest request;
    request.operation = "InvokeEndpoint";
    request.path = "/endpoints/" + std::string(endpoint) + "/invocations";
    request.headers = {"Content-Type: text/csv", "Accept: application/json",
                       "X-Amzn-SageMaker-Target-Variant: " + std::string(variant)};
    models::AppendCsv(request.body, rows);
    request.max_attempts = 1;  // retried here, within the budget
    for (int attempt = 1;; ++attempt) {
      const auto left = std::chrono::duration_cast<core::Duration>(deadline - Clock::now());
      if (left.count() <= 0) {
        return core::MakeError(core::ErrorCode::kTimeout,
                               "SageMaker Runtime InvokeEndpoint: variant '" +
                                   std::string(variant) + "' did not answer within " +
                                   core::FormatDuration(budget));
      }
      request.timeout = left;
      aws::AwsErrorDetail detail;
      auto answer = client->CallRest(request, &detail);
      if (answer) {
        auto predictions = models::ParseUpstreamPredictions(answer->body, rows.rows);
        if (!predictions) {
          return std::unexpected(
              predictions.error().WithContext("variant '" + std::string(variant) + "'"));
        }
        return predictions;
      }
      core::Error error = answer.error();
      switch (error.code()) {
        case core::ErrorCode::kModelError:
          return core::MakeError(
              core::ErrorCode::kModelError,
              "variant '" + std::string(variant) + "' model error: " + ModelMessage(detail));
        case core::ErrorCode::kTimeout:
          return core::MakeError(core::ErrorCode::kTimeout,
                                 "SageMaker Runtime InvokeEndpoint: variant '" +
                                     std::string(variant) + "' did not answer within " +
                                     core::FormatDuration(budget));
        case core::ErrorCode::kThrottled:
        case core::ErrorCode::kUnavailable:
          break;
        default:
          return std::unexpected(std::move(error));
      }
      if (attempt >= options.max_attempts) {
        if (attempt == 1) return std::unexpected(std::move(error));
        return core::MakeError(error.code(),
                               error.message() + " after " + std::to_string(attempt) + " attempts");
      }
      const core::Duration delay =
          core::BackoffDelay(attempt, options.retry_base, options.retry_cap, RandomBits());
      if (Clock::now() + delay >= deadline) return std::unexpected(std::move(error));
      std::this_thread::sleep_for(delay);
    }
  }

  void Work() {
    for (;;) {
      Task task;
      {
        std::unique_lock lock(mu);
        wake.wait(lock, [this] { return stopping || !queue.empty(); });
        if (stopping) return;
        task = std::move(queue.front());
        queue.pop_front();
      }
      auto result = Invoke(task.endpoint, task.variant,
                           models::FeatureRows{task.values, task.rows, task.cols});
      task.done(std::move(result));
    }
  }

  void Enqueue(Task task) {
    {
      std::lock_guard lock(mu);
      if (!stopping && queue.size() < options.max_queued) {
        queue.push_back(std::move(task));
        wake.notify_one();
        return;
      }
    }
    task.done(core::MakeError(core::ErrorCode::kUnavailable,
                              "the SageMaker front has " + std::to_string(options.max_queued) +
                                  " requests waiting; try again later"));
  }
};

namespace {

class RuntimeBackend final : public models::ModelBackend {
 public:
  RuntimeBackend(std::shared_ptr<SageMakerRuntime> owner,
                 std::shared_ptr<SageMakerRuntime::Impl> impl, std::string endpoint,
                 std::string variant)
      : owner_(std::move(owner)),
        impl_(std::move(impl)),
        endpoint_(std::move(endpoint)),
        variant_(std::move(variant)) {}

  void PredictAsync(const models::FeatureRows& rows, models::PredictCallback done) override {
    impl_->Enqueue(Task{.endpoint = endpoint_,
                        .variant = variant_,
                        .values = std::vector<float>(rows.values.begin(), rows.values.end()),
                        .rows = rows.rows,
                        .cols = rows.cols,
                        .done = std::move(done)});
  }
  std::optional<std::size_t> num_features() const override { return std::nullopt; }
  bool ready() const override { return true; }
  const std::string& name() const override { return variant_; }

 private:
  std::shared_ptr<SageMakerRuntime> owner_;  // keeps the workers running
  std::shared_ptr<SageMakerRuntime::Impl> impl_;
  std::string endpoint_;
  std::string variant_;
};

}  // namespace

core::Result<std::shared_ptr<SageMakerRuntime>> SageMakerRuntime::Create(
    std::unique_ptr<aws::AwsClient> client, RuntimeOptions options) {
  if (client == nullptr) return core::ValidationError("SageMaker front: no runtime client");
  if (client->service().protocol != aws::Protocol::kRestJson) {
    return core::ValidationError("SageMaker front: the client is not for SageMaker Runtime");
  }
  if (auto s = ValidateRuntimeOptions(options); !s) return std::unexpected(s.error());
  auto impl = std::make_shared<Impl>();
  impl->client = std::move(client);
  impl->options = std::move(options);
  impl->rng.seed(std::random_device{}());
  // Each worker keeps the state alive: the last reference to the runtime may be
  // dropped on a worker (a request's answer freeing the last routing table).
  for (int i = 0; i < impl->options.threads; ++i) {
    impl->workers.emplace_back([impl] { impl->Work(); });
  }
  auto runtime = std::shared_ptr<SageMakerRuntime>(new SageMakerRuntime());
  runtime->impl_ = std::move(impl);
  return runtime;
}

SageMakerRuntime::~SageMakerRuntime() {
  std::deque<Task> left;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    left.swap(impl_->queue);
  }
  impl_->wake.notify_all();
  for (Task& task : left) {
    task.done(core::MakeError(core::ErrorCode::kUnavailable, "the SageMaker front is stopping"));
  }
  for (std::thread& t : impl_->workers) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();  // this worker returns to its loop, sees `stopping` and ends
    } else {
      t.join();
    }
  }
}

std::shared_ptr<models::ModelBackend> SageMakerRuntime::Backend(std::string endpoint,
                                                                std::string variant) {
  return std::make_shared<RuntimeBackend>(shared_from_this(), impl_, std::move(endpoint),
                                          std::move(variant));
}

core::Result<models::Predictions> SageMakerRuntime::Invoke(std::string_view endpoint,
                                                           std::string_view variant,
                                                           const models::FeatureRows& rows) {
  if (!core::IsSageMakerName(endpoint) || !core::IsSageMakerName(variant)) {
    return core::ValidationError("'" + std::string(endpoint) + "' / '" + std::string(variant) +
                                 "' is not a SageMaker endpoint / variant name");
  }
  return impl_->Invoke(endpoint, variant, rows);
}

core::Duration SageMakerRuntime::TimeoutFor(std::string_view variant) const {
  return impl_->TimeoutFor(variant);
}

}  // namespace mlcanary::sagemaker
