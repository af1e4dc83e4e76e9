// InvocationHandler: the request path from body to answer.
#include "gateway/invocation_handler.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "gateway/http_errors.h"
#include "gateway/invocation_request.h"
#include "metrics/variant_metrics.h"
#include "util/json_writer.h"

namespace mlcanary::gateway {
namespace {

using Clock = std::chrono::steady_clock;

// "/v1/endpoints/recs/invocations" -> "recs" (after `prefix`), or empty.
std::string_view EndpointIn(std::string_view path, std::string_view prefix) {
  if (!path.starts_with(prefix)) return {};
  path.remove_prefix(prefix.size());
  constexpr std::string_view kSuffix = "/invocations";
  if (!path.ends_with(kSuffix)) return {};
  path.remove_suffix(kSuffix.size());
  if (path.empty() || path.find('/') != std::string_view::npos) return {};
  return path;
}

std::string PredictionsJson(const models::Predictions& predictions, const VariantRoute& variant) {
  std::string out;
  out.reserve(64 + predictions.values.size() * 12);
  out += R"({"predictions":[)";
  for (std::size_t r = 0; r < predictions.rows; ++r) {
    if (r > 0) out.push_back(',');
    if (predictions.per_row == 1) {
      util::AppendJsonNumber(out, predictions.values[r]);
      continue;
    }
    out.push_back('[');
    for (std::size_t k = 0; k < predictions.per_row; ++k) {
      if (k > 0) out.push_back(',');
      util::AppendJsonNumber(out, predictions.values[r * predictions.per_row + k]);
    }
    out.push_back(']');
  }
  out += R"(],"variant":)";
  util::AppendJsonString(out, variant.name);
  out += R"(,"model":)";
  util::AppendJsonString(out, variant.backend->name());
  out.push_back('}');
  return out;
}

}  // namespace

InferenceResponse ErrorResponse(const core::Error& error) {
  return InferenceResponse{.status = HttpStatusFor(error.code()), .body = ErrorJson(error)};
}

InvocationHandler::InvocationHandler(Router& router, std::function<std::uint64_t()> random_bits,
                                     std::shared_ptr<ShadowQueue> shadow)
    : router_(router), random_bits_(std::move(random_bits)), shadow_(std::move(shadow)) {}

std::shared_ptr<ShadowPair> InvocationHandler::TakeShadowOf(
    const std::shared_ptr<const RoutingTable>& table, std::string_view endpoint,
    const VariantRoute& variant, const models::FeatureRows& rows) {
  const EndpointRoute* route = table->Find(endpoint);
  if (route == nullptr || !route->shadow) return nullptr;
  const core::ShadowSpec& spec = *route->shadow;
  // In shadow only the others' requests are copied (to the canary); in
  // split-phase mirroring the canary's are copied to production as well.
  const bool answered_by_canary = variant.name == spec.variant;
  if (answered_by_canary && spec.mirror_to.empty()) return nullptr;
  if (spec.sample < 1.0 && UnitInterval(random_bits_()) >= spec.sample) return nullptr;
  const VariantRoute* canary = answered_by_canary ? &variant : route->Find(spec.variant);
  const VariantRoute* called = answered_by_canary ? route->Find(spec.mirror_to) : canary;
  if (canary == nullptr || called == nullptr) return nullptr;
  return TakeShadow(*shadow_, table, *called, *canary, spec, rows);
}

void InvocationHandler::Handle(const InferenceRequest& request, Respond respond) {
  std::string_view path = request.target.substr(0, request.target.find('?'));
  if (path == "/ping") {
    if (request.method != "GET" && request.method != "HEAD") {
      return respond({.status = 405, .body = ErrorJson(kMethodNotAllowedCode, "use GET /ping")});
    }
    if (router_.Ready()) return respond({.status = 200, .body = R"({"status":"ok"})"});
    return respond(ErrorResponse(core::Error(core::ErrorCode::kUnavailable,
                                             "an endpoint has no ready variant with traffic")));
  }
  bool sagemaker = false;
  std::string_view endpoint = EndpointIn(path, "/v1/endpoints/");
  if (endpoint.empty()) {
    endpoint = EndpointIn(path, "/endpoints/");
    sagemaker = !endpoint.empty();
  }
  if (endpoint.empty()) {
    return respond(ErrorResponse(
        core::Error(core::ErrorCode::kNotFound, "no route for " + std::string(path))));
  }
  if (request.method != "POST") {
    return respond(
        {.status = 405, .body = ErrorJson(kMethodNotAllowedCode, "invocations take POST")});
  }
  Invoke(request, endpoint, sagemaker, std::move(respond));
}

void InvocationHandler::Invoke(const InferenceRequest& request, std::string_view endpoint,
                               bool sagemaker, Respond respond) {
  auto parsed = ParseInvocationRequest(request.body);
  if (!parsed) {
    auto response = ErrorResponse(parsed.error());
    response.sagemaker = sagemaker;
    return respond(std::move(response));
  }
  // The table, and with it the chosen backend, lives until the answer is out.
  std::shared_ptr<const RoutingTable> table = router_.table();
  auto picked =
      router_.Route(*table, endpoint, request.target_variant, parsed->user_id, random_bits_());
  if (!picked) {
    auto response = ErrorResponse(picked.error());
    response.sagemaker = sagemaker;
    return respond(std::move(response));
  }
  const VariantRoute* variant = *picked;
  const auto received = request.received;
  const models::FeatureRows rows = parsed->feature_rows();
  std::shared_ptr<ShadowPair> shadow;
  if (table->any_shadow && shadow_ != nullptr) [[unlikely]] {
    shadow = TakeShadowOf(table, endpoint, *variant, rows);
  }
  // The queue is held only by a request with a copy (no reference count touched otherwise).
  std::shared_ptr<ShadowQueue> queue = shadow ? shadow_ : nullptr;
  const auto model_start = Clock::now();
  variant->backend->PredictAsync(
      rows, [table = std::move(table), variant, received, model_start, sagemaker,
             respond = std::move(respond), shadow = std::move(shadow),
             queue = std::move(queue)](core::Result<models::Predictions> predictions) mutable {
        const auto model_end = Clock::now();
        InferenceResponse response;
        if (predictions) {
          response.body = PredictionsJson(*predictions, *variant);
        } else {
          response = ErrorResponse(predictions.error());
        }
        response.variant = variant->name;
        response.sagemaker = sagemaker;
        if (variant->metrics != nullptr) {
          // The answer's predictions feed the divergence check (first output per row).
          metrics::PredictionOutputs outputs;
          if (predictions && predictions->per_row > 0) {
            outputs = {.values = predictions->values.data(),
                       .rows = std::min(predictions->rows,
                                        predictions->values.size() / predictions->per_row),
                       .per_row = predictions->per_row};
          }
          variant->metrics->Record(response.status, model_end - model_start,
                                   Clock::now() - received, outputs);
        }
        respond(std::move(response));
        // Production's answer is out: only now is the canary's copy sent.
        if (shadow) ShadowPair::Send(std::move(shadow), *queue, std::move(predictions));
      });
}

}  // namespace mlcanary::gateway
