// SageMaker control-plane calls behind core::TrafficControl: DescribeEndpoint(Config),
// CreateEndpointConfig + UpdateEndpoint for variant changes, and
// UpdateEndpointWeightsAndCapacities for traffic shifts.
#include "sagemaker/sagemaker_traffic_control.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <cmath>
#include <cstdio>
#include <thread>

#include "core/policy.h"
#include "core/system_clock.h"
#include "core/traffic_weights.h"
#include "core/types.h"
#include "sagemaker/internal/json_fields.h"

namespace mlcanary::sagemaker {
namespace {

using internal::ArrayField;
using internal::NumberField;
using internal::ObjectField;
using internal::StringField;

// Endpoint-config members carried over to the configs this adapter writes, so
// that data capture, encryption, networking and the like survive a canary.
constexpr std::string_view kCarriedConfigFields[] = {"DataCaptureConfig",
                                                     "KmsKeyId",
                                                     "AsyncInferenceConfig",
                                                     "ExplainerConfig",
                                                     "ShadowProductionVariants",
                                                     "ExecutionRoleArn",
                                                     "VpcConfig",
                                                     "EnableNetworkIsolation",
                                                     "MetricsConfig"};

bool IsTransitional(std::string_view status) {
  return status == "Creating" || status == "Updating" || status == "SystemUpdating" ||
         status == "RollingBack";
}

core::EndpointStatus MapStatus(std::string_view status) {
  if (status == "InService") return core::EndpointStatus::kInService;
  if (IsTransitional(status)) return core::EndpointStatus::kUpdating;
  return core::EndpointStatus::kFailed;
}

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

// A copy of `v` without nulls, empty objects and empty arrays (moto writes
// "KmsKeyId": null and "DataCaptureConfig": {}; neither is a valid input).
// Returns false when nothing is left.
bool Prune(const boost::json::value& v, boost::json::value& out) {
  if (v.is_null()) return false;
  if (v.is_object()) {
    boost::json::object o;
    for (const auto& [key, member] : v.get_object()) {
      boost::json::value pruned;
      if (Prune(member, pruned)) o[key] = std::move(pruned);
    }
    if (o.empty()) return false;
    out = std::move(o);
    return true;
  }
  if (v.is_array()) {
    boost::json::array a;
    for (const auto& element : v.get_array()) {
      boost::json::value pruned;
      if (Prune(element, pruned)) a.push_back(std::move(pruned));
    }
    if (a.empty()) return false;
    out = std::move(a);
    return true;
  }
  out = v;
  return true;
}

const boost::json::object* FindByName(const boost::json::array* list, std::string_view name) {
  if (list == nullptr) return nullptr;
  for (const auto& item : *list) {
    if (!item.is_object()) continue;
    if (StringField(item.get_object(), "VariantName") == name) return &item.get_object();
  }
  return nullptr;
}

std::vector<std::string> VariantNames(const boost::json::object& described) {
  std::vector<std::string> names;
  if (const auto* list = ArrayField(described, "ProductionVariants")) {
    for (const auto& item : *list) {
      if (!item.is_object()) continue;
      if (auto name = StringField(item.get_object(), "VariantName")) names.push_back(*name);
    }
  }
  return names;
}

// What traffic sees now: CurrentWeight, else DesiredWeight.
double RawWeight(const boost::json::object& summary) {
  return NumberField(summary, "CurrentWeight")
      .value_or(NumberField(summary, "DesiredWeight").value_or(0.0));
}

// Current instance count, else desired, else what the config started with.
std::optional<int> InstanceCount(const boost::json::object& summary,
                                 const boost::json::object* config_variant) {
  std::optional<double> n = NumberField(summary, "CurrentInstanceCount");
  if (!n) n = NumberField(summary, "DesiredInstanceCount");
  if (!n && config_variant != nullptr) n = NumberField(*config_variant, "InitialInstanceCount");
  if (!n) return std::nullopt;
  return static_cast<int>(std::lround(*n));
}

// Each variant's share of traffic (weights are relative), keyed by name.
std::map<std::string, double> Shares(const boost::json::object& described) {
  std::map<std::string, double> shares;
  double sum = 0;
  if (const auto* list = ArrayField(described, "ProductionVariants")) {
    for (const auto& item : *list) {
      if (!item.is_object()) continue;
      auto name = StringField(item.get_object(), "VariantName");
      if (!name) continue;
      const double w = std::max(0.0, RawWeight(item.get_object()));
      shares[*name] = w;
      sum += w;
    }
  }
  for (auto& [name, w] : shares) w = sum > 0 ? core::RoundWeight(w / sum) : 0.0;
  return shares;
}

std::string FailureReason(const boost::json::object& described) {
  auto reason = StringField(described, "FailureReason");
  return reason && !reason->empty() ? ": " + *reason : std::string();
}

}  // namespace

core::Result<std::unique_ptr<SageMakerTrafficControl>> SageMakerTrafficControl::Create(
    aws::AwsClient& sagemaker, aws::AwsClient& autoscaling, SageMakerOptions options) {
  if (options.poll_interval.count() <= 0) {
    return core::ValidationError("sagemaker poll_interval must be positive");
  }
  if (options.wait_timeout.count() <= 0) {
    return core::ValidationError("sagemaker wait_timeout must be positive");
  }
  if (options.config_visible_attempts < 1) {
    return core::ValidationError("sagemaker config_visible_attempts must be >= 1");
  }
  auto scaling = SageMakerAutoScaling::Create(autoscaling, options.autoscaling);
  if (!scaling) return std::unexpected(scaling.error());
  return std::unique_ptr<SageMakerTrafficControl>(
      new SageMakerTrafficControl(sagemaker, std::move(*scaling), std::move(options)));
}

SageMakerTrafficControl::SageMakerTrafficControl(aws::AwsClient& sagemaker,
                                                 std::unique_ptr<SageMakerAutoScaling> scaling,
                                                 SageMakerOptions options)
    : sagemaker_(sagemaker),
      scaling_(std::move(scaling)),
      options_(std::move(options)),
      rng_(std::random_device{}()) {}

std::string SageMakerTrafficControl::ConfigName(std::string_view endpoint, core::Timestamp now,
                                                std::uint64_t random_bits) {
  const auto day = std::chrono::floor<std::chrono::days>(now);
  const std::chrono::year_month_day ymd(day);
  const std::chrono::hh_mm_ss hms(std::chrono::floor<std::chrono::seconds>(now - day));
  char suffix[32];
  std::snprintf(
      suffix, sizeof(suffix), "-%04d%02u%02u%02d%02d%02lld-%04x", static_cast<int>(ymd.year()),
      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
      static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
      static_cast<long long>(hms.seconds().count()), static_cast<unsigned>(random_bits & 0xffffU));
  const std::string_view tail(suffix);
  const std::size_t room = 63 - tail.size();
  return std::string(endpoint.substr(0, room)) + std::string(tail);
}

core::Timestamp SageMakerTrafficControl::Now() const {
  static const core::SystemClock system_clock;
  return (options_.clock != nullptr ? *options_.clock : system_clock).Now();
}

void SageMakerTrafficControl::Sleep(core::Duration d) const {
  if (options_.sleep) {
    options_.sleep(d);
  } else {
    std::this_thread::sleep_for(d);
  }
}

std::uint64_t SageMakerTrafficControl::RandomBits() {
  if (options_.random_bits) return options_.random_bits();
  std::lock_guard lock(mu_);
  return rng_();
}

void SageMakerTrafficControl::Log(std::string_view line) const {
  if (options_.log) options_.log(line);
}

std::mutex& SageMakerTrafficControl::EndpointMutex(std::string_view endpoint) {
  std::lock_guard lock(mu_);
  auto it = endpoint_mu_.find(endpoint);
  if (it == endpoint_mu_.end()) {
    it = endpoint_mu_.emplace(std::string(endpoint), std::make_unique<std::mutex>()).first;
  }
  return *it->second;
}

core::Result<boost::json::object> SageMakerTrafficControl::DescribeRaw(std::string_view endpoint) {
  if (!core::IsSageMakerName(endpoint)) {
    return core::ValidationError("endpoint name " + Quote(endpoint) +
                                 " is not a valid SageMaker name");
  }
  auto r = sagemaker_.CallJson("DescribeEndpoint",
                               boost::json::object{{"EndpointName", std::string(endpoint)}});
  if (!r) {
    if (r.error().code() == core::ErrorCode::kNotFound) {
      return core::NotFoundError("endpoint " + Quote(endpoint) + " does not exist (" +
                                 r.error().message() + ")");
    }
    return std::unexpected(r.error());
  }
  if (!r->is_object() || !StringField(r->get_object(), "EndpointStatus")) {
    return core::InternalError("SageMaker DescribeEndpoint " + Quote(endpoint) +
                               ": answer without EndpointStatus");
  }
  return std::move(r->get_object());
}

core::Result<boost::json::object> SageMakerTrafficControl::DescribeInService(
    std::string_view endpoint) {
  auto described = DescribeRaw(endpoint);
  if (!described) return described;
  const std::string status = *StringField(*described, "EndpointStatus");
  if (status == "InService") return described;
  if (IsTransitional(status)) {
    return core::MakeError(
        core::ErrorCode::kUnavailable,
        "endpoint " + Quote(endpoint) + " is " + status + "; it can change only when InService");
  }
  return core::FailedPreconditionError("endpoint " + Quote(endpoint) + " is " + status +
                                       FailureReason(*described));
}

core::Result<std::shared_ptr<const boost::json::object>> SageMakerTrafficControl::DescribeConfig(
    const std::string& name) {
  {
    std::lock_guard lock(mu_);
    if (auto it = configs_.find(name); it != configs_.end()) return it->second;
  }
  auto r = sagemaker_.CallJson("DescribeEndpointConfig",
                               boost::json::object{{"EndpointConfigName", name}});
  if (!r) {
    if (r.error().code() == core::ErrorCode::kNotFound) {
      return core::NotFoundError("endpoint config " + Quote(name) + " does not exist (" +
                                 r.error().message() + ")");
    }
    return std::unexpected(r.error());
  }
  if (!r->is_object() || ArrayField(r->get_object(), "ProductionVariants") == nullptr) {
    return core::InternalError("SageMaker DescribeEndpointConfig " + Quote(name) +
                               ": answer without ProductionVariants");
  }
  auto config = std::make_shared<const boost::json::object>(std::move(r->get_object()));
  std::lock_guard lock(mu_);
  configs_[name] = config;
  return config;
}

core::Result<core::Endpoint> SageMakerTrafficControl::DescribeEndpoint(std::string_view endpoint) {
  auto described = DescribeRaw(endpoint);
  if (!described) return std::unexpected(described.error());
  std::shared_ptr<const boost::json::object> config;
  if (auto config_name = StringField(*described, "EndpointConfigName")) {
    auto c = DescribeConfig(*config_name);
    if (c) {
      config = *c;
    } else if (c.error().code() != core::ErrorCode::kNotFound) {
      return std::unexpected(c.error().WithContext("endpoint " + Quote(endpoint)));
    }
  }
  const boost::json::array* config_variants =
      config ? ArrayField(*config, "ProductionVariants") : nullptr;

  core::Endpoint out;
  out.name = std::string(endpoint);
  out.status = MapStatus(*StringField(*described, "EndpointStatus"));
  const std::map<std::string, double> shares = Shares(*described);
  if (const auto* list = ArrayField(*described, "ProductionVariants")) {
    for (const auto& item : *list) {
      if (!item.is_object()) continue;
      const boost::json::object& summary = item.get_object();
      auto name = StringField(summary, "VariantName");
      if (!name) continue;
      const boost::json::object* cv = FindByName(config_variants, *name);
      core::Variant v;
      v.name = *name;
      v.weight = shares.at(*name);
      v.instances = InstanceCount(summary, cv).value_or(0);
      v.model.kind = core::ModelKind::kSagemaker;
      if (cv != nullptr) {
        v.model.name = StringField(*cv, "ModelName").value_or("");
        v.model.instance_type = StringField(*cv, "InstanceType").value_or("");
      }
      out.variants.push_back(std::move(v));
    }
  }
  return out;
}

core::Status SageMakerTrafficControl::WaitConfigVisible(const std::string& name) {
  for (int attempt = 1;; ++attempt) {
    auto config = DescribeConfig(name);
    if (config) return core::Ok();
    if (config.error().code() != core::ErrorCode::kNotFound) {
      return std::unexpected(config.error().WithContext("new endpoint config " + Quote(name)));
    }
    if (attempt >= options_.config_visible_attempts) {
      // Eventual consistency that took longer than usual: worth another try later.
      return core::MakeError(core::ErrorCode::kUnavailable,
                             "new endpoint config " + Quote(name) + " not visible after " +
                                 std::to_string(attempt) + " reads: " + config.error().message());
    }
    Sleep(options_.config_visible_interval);
  }
}

core::Status SageMakerTrafficControl::WaitInService(std::string_view endpoint,
                                                    std::string_view expected_config) {
  const core::Timestamp deadline = Now() + options_.wait_timeout;
  // The clock may be a fake that sleeping does not move: bound the polls too.
  const auto max_polls = options_.wait_timeout / options_.poll_interval + 1;
  for (std::int64_t poll = 1;; ++poll) {
    auto described = DescribeRaw(endpoint);
    if (!described) return std::unexpected(described.error());
    const std::string status = *StringField(*described, "EndpointStatus");
    if (status == "InService") {
      const std::string config = StringField(*described, "EndpointConfigName").value_or("");
      if (!expected_config.empty() && config != expected_config) {
        return core::FailedPreconditionError(
            "update of endpoint " + Quote(endpoint) + " to config " + Quote(expected_config) +
            " was rolled back (serving " + Quote(config) + ")" + FailureReason(*described));
      }
      return core::Ok();
    }
    if (!IsTransitional(status)) {
      return core::FailedPreconditionError("endpoint " + Quote(endpoint) + " is " + status +
                                           FailureReason(*described));
    }
    if (Now() >= deadline || poll >= max_polls) {
      return core::MakeError(core::ErrorCode::kTimeout,
                             "endpoint " + Quote(endpoint) + " still " + status + " after " +
                                 core::FormatDuration(options_.wait_timeout));
    }
    Sleep(options_.poll_interval);
  }
}

void SageMakerTrafficControl::DeleteConfig(const std::string& name) {
  {
    std::lock_guard lock(mu_);
    configs_.erase(name);
  }
  auto r = sagemaker_.CallJson("DeleteEndpointConfig",
                               boost::json::object{{"EndpointConfigName", name}});
  if (!r && r.error().code() != core::ErrorCode::kNotFound) {
    Log("endpoint config '" + name + "' not deleted: " + r.error().ToString());
  }
}

core::Result<std::shared_ptr<const boost::json::object>>
SageMakerTrafficControl::DescribeCurrentConfig(std::string_view endpoint,
                                               const boost::json::object& described) {
  const auto name = StringField(described, "EndpointConfigName");
  if (!name) {
    return core::InternalError("endpoint " + Quote(endpoint) + " has no EndpointConfigName");
  }
  auto config = DescribeConfig(*name);
  if (!config && config.error().code() == core::ErrorCode::kNotFound) {
    // Not "the variant is gone" (what kNotFound tells the controller): the
    // endpoint is there, but the config it serves was deleted behind its back.
    return core::FailedPreconditionError(
        "endpoint " + Quote(endpoint) +
        " serves a config that is gone: " + config.error().message());
  }
  return config;
}

void SageMakerTrafficControl::DeleteUnusedConfig(std::string_view endpoint,
                                                 const std::string& name) {
  // A failed call may still have taken effect (an answer lost, a timeout), and
  // an endpoint updating to, or serving, this config must keep it.
  auto described = DescribeRaw(endpoint);
  if (!described) {
    Log("endpoint config " + Quote(name) + " kept: endpoint " + Quote(endpoint) +
        " could not be described: " + described.error().ToString());
    return;
  }
  const std::string status = StringField(*described, "EndpointStatus").value_or("");
  std::optional<std::string> pending;
  if (const boost::json::object* summary = ObjectField(*described, "PendingDeploymentSummary")) {
    pending = StringField(*summary, "EndpointConfigName");
  }
  if (IsTransitional(status) || StringField(*described, "EndpointConfigName") == name ||
      pending == name) {
    Log("endpoint config " + Quote(name) + " kept: endpoint " + Quote(endpoint) + " is " + status +
        (pending ? " (pending config " + Quote(*pending) + ")" : "") + " and may use it");
    return;
  }
  DeleteConfig(name);
}

core::Status SageMakerTrafficControl::Reconfigure(
    std::string_view endpoint, const boost::json::object& described,
    const std::function<bool(std::string_view variant)>& keep, const boost::json::object* extra) {
  auto old_config = DescribeCurrentConfig(endpoint, described);
  if (!old_config) return std::unexpected(old_config.error());
  const std::string old_name = *StringField(described, "EndpointConfigName");

  const boost::json::array* summaries = ArrayField(described, "ProductionVariants");
  boost::json::array variants;
  for (const auto& item : *ArrayField(**old_config, "ProductionVariants")) {
    if (!item.is_object()) continue;
    const boost::json::object& cv = item.get_object();
    const auto name = StringField(cv, "VariantName");
    if (!name || !keep(*name)) continue;
    boost::json::value pruned;
    if (!Prune(item, pruned)) continue;
    boost::json::object& pv = pruned.get_object();
    if (const boost::json::object* summary = FindByName(summaries, *name)) {
      // Serverless variants have no instances; the rest keep today's count.
      if (pv.contains("InstanceType")) {
        if (auto n = InstanceCount(*summary, &cv); n && *n >= 1) pv["InitialInstanceCount"] = *n;
      }
      pv["InitialVariantWeight"] = std::max(0.0, RawWeight(*summary));
    }
    variants.push_back(std::move(pruned));
  }
  if (extra != nullptr) variants.push_back(*extra);
  if (variants.empty()) {
    return core::FailedPreconditionError("endpoint " + Quote(endpoint) +
                                         " would be left without variants");
  }

  const std::string new_name = ConfigName(endpoint, Now(), RandomBits());
  boost::json::object request;
  request["EndpointConfigName"] = new_name;
  request["ProductionVariants"] = std::move(variants);
  for (std::string_view field : kCarriedConfigFields) {
    if (const boost::json::value* v = (*old_config)->if_contains(field)) {
      boost::json::value pruned;
      if (Prune(*v, pruned)) request[field] = std::move(pruned);
    }
  }
  if (auto r = sagemaker_.CallJson("CreateEndpointConfig", request); !r) {
    return std::unexpected(r.error().WithContext("endpoint " + Quote(endpoint)));
  }
  if (auto s = WaitConfigVisible(new_name); !s) {
    DeleteConfig(new_name);
    return s;
  }
  boost::json::object update;
  update["EndpointName"] = std::string(endpoint);
  update["EndpointConfigName"] = new_name;
  update["RetainAllVariantProperties"] = true;
  if (auto r = sagemaker_.CallJson("UpdateEndpoint", update); !r) {
    DeleteUnusedConfig(endpoint, new_name);
    return std::unexpected(r.error().WithContext("endpoint " + Quote(endpoint)));
  }
  if (auto s = WaitInService(endpoint, new_name); !s) {
    // Rolled back to the old config: the new one serves nothing (unless the
    // endpoint failed on it, which DeleteUnusedConfig checks).
    if (s.error().code() == core::ErrorCode::kFailedPrecondition) {
      DeleteUnusedConfig(endpoint, new_name);
    }
    return s;
  }
  if (options_.delete_old_configs && old_name != new_name) DeleteConfig(old_name);
  return core::Ok();
}

core::Status SageMakerTrafficControl::CheckVariant(std::string_view endpoint,
                                                   const core::Variant& variant) {
  const std::string what = "variant " + Quote(variant.name) + " of endpoint " + Quote(endpoint);
  if (!core::IsSageMakerName(variant.name)) {
    return core::ValidationError("variant name " + Quote(variant.name) +
                                 " is not a valid SageMaker name");
  }
  if (variant.model.kind != core::ModelKind::kSagemaker) {
    return core::ValidationError(what + ": model kind must be sagemaker, got " +
                                 std::string(core::ModelKindName(variant.model.kind)));
  }
  if (!core::IsSageMakerName(variant.model.name)) {
    return core::ValidationError(what + ": model name " + Quote(variant.model.name) +
                                 " is not a valid SageMaker model name");
  }
  if (variant.instances < 1) {
    return core::ValidationError(what + ": instances must be >= 1, got " +
                                 std::to_string(variant.instances));
  }
  return core::Ok();
}

core::Status SageMakerTrafficControl::CreateVariant(std::string_view endpoint,
                                                    const core::Variant& variant) {
  if (auto s = CheckVariant(endpoint, variant); !s) return s;
  const std::string what = "variant " + Quote(variant.name) + " of endpoint " + Quote(endpoint);

  std::lock_guard endpoint_lock(EndpointMutex(endpoint));
  auto described = DescribeInService(endpoint);
  if (!described) return std::unexpected(described.error());
  auto config = DescribeCurrentConfig(endpoint, *described);
  if (!config) return std::unexpected(config.error());
  const boost::json::array* config_variants = ArrayField(**config, "ProductionVariants");

  if (FindByName(ArrayField(*described, "ProductionVariants"), variant.name) != nullptr) {
    const boost::json::object* cv = FindByName(config_variants, variant.name);
    if (cv == nullptr || StringField(*cv, "ModelName") != variant.model.name) {
      return core::ConflictError("endpoint " + Quote(endpoint) + " already has a variant " +
                                 Quote(variant.name) + " with another model");
    }
    // Created by an earlier call that failed afterwards: finish its job.
    if (auto s = scaling_->Register(endpoint, variant.name); !s) return s;
    return core::Ok();
  }
  const std::vector<std::string> names = VariantNames(*described);
  if (names.size() >= 10) {
    return core::FailedPreconditionError("endpoint " + Quote(endpoint) +
                                         " already has 10 variants, SageMaker's maximum");
  }

  std::string instance_type = variant.model.instance_type;
  if (instance_type.empty()) {
    // The production variant's type: the variant with the highest weight.
    const std::map<std::string, double> shares = Shares(*described);
    const auto production =
        std::max_element(shares.begin(), shares.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    if (production != shares.end()) {
      if (const boost::json::object* cv = FindByName(config_variants, production->first)) {
        instance_type = StringField(*cv, "InstanceType").value_or("");
      }
    }
    if (instance_type.empty()) {
      return core::ValidationError(what +
                                   ": no instance type given and the production variant has none");
    }
  }

  boost::json::object added;
  added["VariantName"] = variant.name;
  added["ModelName"] = variant.model.name;
  added["InstanceType"] = instance_type;
  added["InitialInstanceCount"] = variant.instances;
  added["InitialVariantWeight"] = 0.0;  // the port's contract: a new variant takes no traffic
  if (auto s = Reconfigure(
          endpoint, *described, [](std::string_view) { return true; }, &added);
      !s) {
    return std::unexpected(s.error().WithContext("adding " + what));
  }
  if (auto s = scaling_->Register(endpoint, variant.name); !s) {
    return std::unexpected(s.error().WithContext(what + " created, but"));
  }
  return core::Ok();
}

core::Status SageMakerTrafficControl::RemoveVariant(std::string_view endpoint,
                                                    std::string_view variant) {
  const std::string what = "variant " + Quote(variant) + " of endpoint " + Quote(endpoint);
  std::lock_guard endpoint_lock(EndpointMutex(endpoint));
  auto described = DescribeInService(endpoint);
  if (!described) return std::unexpected(described.error());
  const std::map<std::string, double> shares = Shares(*described);
  const auto it = shares.find(std::string(variant));
  if (it == shares.end()) return core::NotFoundError(what + " does not exist");
  if (shares.size() == 1) {
    return core::FailedPreconditionError(what + " is the endpoint's only variant");
  }
  if (it->second > 0) {
    return core::FailedPreconditionError(what + " still has traffic (weight " +
                                         std::to_string(it->second) + ")");
  }
  // UpdateEndpoint refuses to remove a variant that is a registered scalable target.
  if (auto s = scaling_->Deregister(endpoint, variant); !s) return s;
  if (auto s = Reconfigure(
          endpoint, *described, [&](std::string_view name) { return name != variant; }, nullptr);
      !s) {
    return std::unexpected(s.error().WithContext("removing " + what));
  }
  return core::Ok();
}

core::Status SageMakerTrafficControl::SetWeights(std::string_view endpoint,
                                                 const std::vector<core::VariantWeight>& weights) {
  // What needs nothing of the endpoint is refused before asking SageMaker.
  if (auto s = core::ValidateWeightRequest(endpoint, weights); !s) return s;

  std::lock_guard endpoint_lock(EndpointMutex(endpoint));
  // A rollback must not fail because autoscaling happens to be updating the
  // endpoint: wait for InService (bounded by wait_timeout) rather than refuse.
  auto described = DescribeRaw(endpoint);
  if (!described) return std::unexpected(described.error());
  if (const std::string status = *StringField(*described, "EndpointStatus");
      status != "InService") {
    if (IsTransitional(status)) {
      if (auto s = WaitInService(endpoint, ""); !s) return s;
    }
    described = DescribeInService(endpoint);  // the description of the waited-for state
    if (!described) return std::unexpected(described.error());
  }
  const std::map<std::string, double> current = Shares(*described);
  std::vector<core::VariantWeight> shares;
  for (const auto& [name, w] : current) shares.push_back({name, w});
  auto next = core::ApplyWeights(endpoint, shares, weights);  // unnamed variants keep their share
  if (!next) return std::unexpected(next.error());
  std::map<std::string, double> target;
  for (const core::VariantWeight& w : *next) target[w.variant] = core::RoundWeight(w.weight);
  if (target == current) return core::Ok();  // shares already in force (both on the 1e-6 grid)

  boost::json::array desired;
  for (const auto& [name, w] : target) {
    desired.push_back(boost::json::object{{"VariantName", name}, {"DesiredWeight", w}});
  }
  boost::json::object request;
  request["EndpointName"] = std::string(endpoint);
  request["DesiredWeightsAndCapacities"] = std::move(desired);
  if (auto r = sagemaker_.CallJson("UpdateEndpointWeightsAndCapacities", request); !r) {
    return std::unexpected(r.error().WithContext("weights of endpoint " + Quote(endpoint)));
  }
  return WaitInService(endpoint, "");
}

}  // namespace mlcanary::sagemaker
