// The configuration of `mlcanary serve` (API.md "Configuration"), read from
// YAML and validated whole before anything starts: every error names the
// file, the key path and the line.
#ifndef MLCANARY_CONFIG_SERVICE_CONFIG_H_
#define MLCANARY_CONFIG_SERVICE_CONFIG_H_

#include <cstddef>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/policy.h"
#include "core/types.h"

namespace mlcanary::config {

struct EndpointConfig {
  std::string name;
  std::vector<core::Variant> variants;  // weights sum to 1
  core::Policy policy;                  // defaults + the endpoint's overrides
};

struct ServiceConfig {
  std::string source;  // the file, for messages
  std::string inference_listen = "127.0.0.1:8080";
  std::string control_listen = "127.0.0.1:8081";
  // "sqlite:PATH" (relative paths are relative to the config file's directory).
  std::string store = "sqlite:data/mlcanary.db";
  std::string admin_token_env = "MLCANARY_API_TOKEN";
  std::string reader_token_env = "MLCANARY_READ_TOKEN";
  core::Duration controller_interval = std::chrono::seconds(60);
  std::vector<std::string> webhooks;
  int gateway_threads = 0;  // 0: one per core
  std::size_t max_body_bytes = 1 << 20;
  std::vector<EndpointConfig> endpoints;
};

// Parses `text`; relative model and store paths are resolved against `base_dir`.
core::Result<ServiceConfig> ParseServiceConfig(const std::string& text, const std::string& source,
                                               const std::string& base_dir);
core::Result<ServiceConfig> LoadServiceConfig(const std::string& path);

// "host:port" with a port in 0..65535 (0: any free port).
core::Status ValidateListenAddress(const std::string& address);

}  // namespace mlcanary::config

#endif  // MLCANARY_CONFIG_SERVICE_CONFIG_H_
