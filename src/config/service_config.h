// The configuration of `mlcanary serve` (API.md "Configuration"), read from
// YAML and validated whole before anything starts: every error names the
// file, the key path and the line.
#ifndef MLCANARY_CONFIG_SERVICE_CONFIG_H_
#define MLCANARY_CONFIG_SERVICE_CONFIG_H_

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/policy.h"
#include "core/types.h"

namespace mlcanary::config {

struct EndpointConfig {
  std::string name;
  // Weights sum to 1. Empty with backend sagemaker: the variants are the
  // SageMaker endpoint's own.
  std::vector<core::Variant> variants;
  core::Policy policy;  // defaults + the endpoint's overrides
};

// Where traffic is served and measured (DESIGN.md "shapes").
enum class Backend {
  kEmbedded,   // mlcanary's own gateway, metrics recorded in-process
  kSagemaker,  // real SageMaker endpoints, CloudWatch metrics
};

// The AWS client settings shared by every AWS adapter.
struct AwsConfig {
  std::string region;        // empty: $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1
  std::string endpoint_url;  // one URL for every service (a VPC endpoint, moto in tests)
  // Per-service URLs, keys sagemaker, sagemaker-runtime, cloudwatch, sns, dynamodb,
  // autoscaling.
  std::map<std::string, std::string> endpoint_urls;
  core::Duration timeout = std::chrono::seconds(10);  // per attempt
  int max_attempts = 0;                               // 0: each service's default
};

// Application Auto Scaling of the variants mlcanary creates (design document:
// target tracking on invocations per instance).
struct AutoScalingConfig {
  bool enabled = true;
  int min_capacity = 1;
  int max_capacity = 10;
  double target_invocations_per_instance = 1000;
  core::Duration scale_out_cooldown = std::chrono::seconds(60);
  core::Duration scale_in_cooldown = std::chrono::seconds(300);
};

// sagemaker.inference: the inference front (README "SageMaker"), on when
// listen.inference is set with backend: sagemaker.
struct SagemakerInferenceConfig {
  bool enabled = false;                              // listen.inference was given
  core::Duration timeout = std::chrono::seconds(2);  // per request, retries included
  // sagemaker.inference.variant_timeouts: per variant name.
  std::map<std::string, core::Duration, std::less<>> variant_timeouts;
  int max_attempts = 2;  // throttled / unavailable calls, the first included
  int threads = 32;      // InvokeEndpoint calls at once
  // DescribeEndpoint of each endpoint this often, beside after each change the
  // controller makes (changes made outside mlcanary).
  core::Duration refresh_interval = std::chrono::seconds(30);
};

struct SagemakerConfig {
  core::Duration poll_interval = std::chrono::seconds(15);  // DescribeEndpoint while Updating
  core::Duration wait_timeout = std::chrono::minutes(30);   // for an update to reach InService
  bool delete_old_configs = true;
  AutoScalingConfig autoscaling;
  SagemakerInferenceConfig inference;
};

// Where the controller reads the canary's health (DESIGN.md "shapes"; config
// `metrics:`). Only with backend embedded: SageMaker is judged from CloudWatch.
enum class MetricsSource {
  kEmbedded,    // the gateway's in-process registry (one replica)
  kPrometheus,  // PromQL over every replica's /metrics
};

struct MetricsConfig {
  MetricsSource source = MetricsSource::kEmbedded;
  std::string url;  // prometheus: the server's base URL (http://host:9090)
  std::string job;  // prometheus: only series with this job label; empty: any
  core::Duration timeout = std::chrono::seconds(5);  // prometheus: per query
};

struct ServiceConfig {
  std::string source;  // the file, for messages
  std::string inference_listen = "127.0.0.1:8080";
  std::string control_listen = "127.0.0.1:8081";
  // listen.max_connections.{inference,control}: connections open at once on
  // each port; at the cap new ones wait in the listen backlog.
  std::size_t inference_max_connections = 10000;
  std::size_t control_max_connections = 256;
  Backend backend = Backend::kEmbedded;
  // "sqlite:PATH" (relative paths are relative to the config file's directory),
  // "dynamodb:TABLE" or a PostgreSQL URL "postgresql://..." (or "postgres://...",
  // kept as written; store::RedactPostgresUrl prints it without the password).
  std::string store = "sqlite:data/mlcanary.db";
  AwsConfig aws;
  SagemakerConfig sagemaker;
  std::string sns_topic_arn;  // notifications.sns_topic_arn; empty: no SNS
  std::string admin_token_env = "MLCANARY_API_TOKEN";
  std::string reader_token_env = "MLCANARY_READ_TOKEN";
  core::Duration controller_interval = std::chrono::seconds(60);
  // controller.lease: with a PostgreSQL store (fleet mode), how long the
  // leader's claim on the controller holds without a renewal: a killed
  // leader is replaced within it (plus about a second).
  core::Duration controller_lease = std::chrono::seconds(10);
  MetricsConfig metrics;
  std::vector<std::string> webhooks;
  int gateway_threads = 0;  // 0: one per core
  std::size_t max_body_bytes = 1 << 20;
  std::vector<EndpointConfig> endpoints;
  // The line (1-based) of the keys whose values are used only when the service
  // starts, by path: "listen.inference", "listen.control", "store",
  // "endpoints[0].variants[1].model.path" (or .url), "metrics.url". A port in use, a store
  // that cannot be opened or a model that does not load names its key and line
  // (ConfigKeyError). A key absent from the file (a default) has no entry.
  std::map<std::string, int, std::less<>> key_lines;
};

// "FILE: key (line N): reason" as a ValidationError (`mlcanary serve` exits 2):
// for what the file asked for but cannot be had at start-up. Without
// "(line N)" when the key is not in the file.
core::Error ConfigKeyError(const ServiceConfig& config, std::string_view key,
                           std::string_view reason);

// Parses `text`; relative model and store paths are resolved against `base_dir`.
core::Result<ServiceConfig> ParseServiceConfig(const std::string& text, const std::string& source,
                                               const std::string& base_dir);
core::Result<ServiceConfig> LoadServiceConfig(const std::string& path);

// "host:port" with a port in 0..65535 (0: any free port).
core::Status ValidateListenAddress(const std::string& address);

}  // namespace mlcanary::config

#endif  // MLCANARY_CONFIG_SERVICE_CONFIG_H_
