// Application Auto Scaling calls (JSON 1.1, AnyScaleFrontendService.<Op>).
#include "sagemaker/autoscaling.h"

#include <boost/json/object.hpp>
#include <cmath>
#include <string>
#include <vector>

namespace mlcanary::sagemaker {
namespace {

constexpr std::string_view kNamespace = "sagemaker";
constexpr std::string_view kDimension = "sagemaker:variant:DesiredInstanceCount";
constexpr std::string_view kMetric = "SageMakerVariantInvocationsPerInstance";

std::int64_t Seconds(core::Duration d) {
  return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

boost::json::object TargetRequest(std::string_view endpoint, std::string_view variant) {
  boost::json::object request;
  request["ServiceNamespace"] = kNamespace;
  request["ResourceId"] = SageMakerAutoScaling::ResourceId(endpoint, variant);
  request["ScalableDimension"] = kDimension;
  return request;
}

// AWS answers ObjectNotFoundException (kNotFound, as every *NotFoundException);
// moto a ValidationException with AWS's wording ("No scaling policy found for
// ...", "No scalable target found for ...").
bool NotRegistered(const core::Error& error, const aws::AwsErrorDetail& detail) {
  return error.code() == core::ErrorCode::kNotFound ||
         detail.message.starts_with("No scaling policy found") ||
         detail.message.starts_with("No scalable target found");
}

}  // namespace

core::Status ValidateAutoScalingOptions(const AutoScalingOptions& o) {
  if (o.min_capacity < 1) {
    return core::ValidationError(
        "autoscaling min_capacity must be >= 1 (SageMaker variants), got " +
        std::to_string(o.min_capacity));
  }
  if (o.max_capacity < o.min_capacity) {
    return core::ValidationError("autoscaling max_capacity " + std::to_string(o.max_capacity) +
                                 " is below min_capacity " + std::to_string(o.min_capacity));
  }
  if (!std::isfinite(o.target_invocations) || o.target_invocations <= 0) {
    return core::ValidationError("autoscaling target_invocations must be > 0");
  }
  if (o.scale_out_cooldown.count() < 0 || o.scale_in_cooldown.count() < 0) {
    return core::ValidationError("autoscaling cooldowns must not be negative");
  }
  if (o.scale_out_cooldown.count() % 1000 != 0 || o.scale_in_cooldown.count() % 1000 != 0) {
    return core::ValidationError("autoscaling cooldowns must be whole seconds");
  }
  return core::Ok();
}

core::Result<std::unique_ptr<SageMakerAutoScaling>> SageMakerAutoScaling::Create(
    aws::AwsClient& client, AutoScalingOptions options) {
  if (auto s = ValidateAutoScalingOptions(options); !s) return std::unexpected(s.error());
  return std::unique_ptr<SageMakerAutoScaling>(new SageMakerAutoScaling(client, options));
}

std::string SageMakerAutoScaling::ResourceId(std::string_view endpoint, std::string_view variant) {
  return "endpoint/" + std::string(endpoint) + "/variant/" + std::string(variant);
}

std::string SageMakerAutoScaling::PolicyName(std::string_view endpoint, std::string_view variant) {
  return std::string(endpoint) + "-" + std::string(variant) + "-invocations";
}

core::Status SageMakerAutoScaling::Register(std::string_view endpoint, std::string_view variant) {
  if (!options_.enabled) return core::Ok();
  const std::string what = "autoscaling of variant '" + std::string(variant) + "' of endpoint '" +
                           std::string(endpoint) + "'";
  boost::json::object target = TargetRequest(endpoint, variant);
  target["MinCapacity"] = options_.min_capacity;
  target["MaxCapacity"] = options_.max_capacity;
  if (auto r = client_.CallJson("RegisterScalableTarget", target); !r) {
    return std::unexpected(r.error().WithContext(what));
  }

  boost::json::object policy = TargetRequest(endpoint, variant);
  policy["PolicyName"] = PolicyName(endpoint, variant);
  policy["PolicyType"] = "TargetTrackingScaling";
  boost::json::object config;
  config["TargetValue"] = options_.target_invocations;
  config["PredefinedMetricSpecification"] = boost::json::object{{"PredefinedMetricType", kMetric}};
  config["ScaleOutCooldown"] = Seconds(options_.scale_out_cooldown);
  config["ScaleInCooldown"] = Seconds(options_.scale_in_cooldown);
  policy["TargetTrackingScalingPolicyConfiguration"] = std::move(config);
  if (auto r = client_.CallJson("PutScalingPolicy", policy); !r) {
    return std::unexpected(r.error().WithContext(what));
  }
  return core::Ok();
}

core::Result<std::vector<std::string>> SageMakerAutoScaling::PolicyNames(std::string_view endpoint,
                                                                         std::string_view variant) {
  const std::string resource_id = ResourceId(endpoint, variant);
  std::vector<std::string> names;
  std::string next_token;
  do {
    boost::json::object request = TargetRequest(endpoint, variant);
    if (!next_token.empty()) request["NextToken"] = next_token;
    auto r = client_.CallJson("DescribeScalingPolicies", request);
    if (!r) return std::unexpected(r.error());
    next_token.clear();
    const boost::json::object* answer = r->if_object();
    if (answer == nullptr) break;
    if (const boost::json::value* list = answer->if_contains("ScalingPolicies");
        list != nullptr && list->is_array()) {
      for (const boost::json::value& p : list->get_array()) {
        const boost::json::object* policy = p.if_object();
        if (policy == nullptr) continue;
        const boost::json::value* name = policy->if_contains("PolicyName");
        const boost::json::value* id = policy->if_contains("ResourceId");
        const boost::json::value* dimension = policy->if_contains("ScalableDimension");
        // Only this variant's: the answer is filtered by the request, but an exact check
        // costs nothing (moto matches ResourceId as a substring).
        if (name == nullptr || !name->is_string() || id == nullptr || !id->is_string() ||
            id->get_string() != resource_id ||
            (dimension != nullptr && dimension->is_string() &&
             dimension->get_string() != kDimension)) {
          continue;
        }
        names.emplace_back(name->get_string());
      }
    }
    if (const boost::json::value* token = answer->if_contains("NextToken");
        token != nullptr && token->is_string()) {
      next_token = std::string(token->get_string());
    }
  } while (!next_token.empty());
  return names;
}

core::Status SageMakerAutoScaling::Deregister(std::string_view endpoint, std::string_view variant) {
  if (!options_.enabled) return core::Ok();
  const std::string what = "autoscaling of variant '" + std::string(variant) + "' of endpoint '" +
                           std::string(endpoint) + "'";
  // The variant's policies as they are, whoever named them (the user's own included).
  auto names = PolicyNames(endpoint, variant);
  if (!names) return std::unexpected(names.error().WithContext(what));
  aws::AwsErrorDetail detail;
  for (const std::string& name : *names) {
    boost::json::object policy = TargetRequest(endpoint, variant);
    policy["PolicyName"] = name;
    detail = {};
    if (auto r = client_.CallJson("DeleteScalingPolicy", policy, &detail);
        !r && !NotRegistered(r.error(), detail)) {
      return std::unexpected(
          r.error().WithContext("scaling policy '" + name + "'").WithContext(what));
    }
  }
  detail = {};
  if (auto r =
          client_.CallJson("DeregisterScalableTarget", TargetRequest(endpoint, variant), &detail);
      !r && !NotRegistered(r.error(), detail)) {
    return std::unexpected(r.error().WithContext(what));
  }
  return core::Ok();
}

}  // namespace mlcanary::sagemaker
