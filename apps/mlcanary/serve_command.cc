// `mlcanary serve`: validates the config and environment, starts the Service,
// waits for SIGINT/SIGTERM, shuts down in order.
#include "serve_command.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "config/service_config.h"
#include "service.h"

namespace mlcanary::app {
namespace {

int Refuse(const std::string& message) {
  std::cerr << "mlcanary serve: " << message << "\n";
  return 2;
}

std::string Env(const std::string& name) {
  if (name.empty()) return "";
  const char* v = std::getenv(name.c_str());
  return v == nullptr ? "" : v;
}

}  // namespace

int RunServe(const ServeOptions& options) {
  auto config = config::LoadServiceConfig(options.config_path);
  if (!config) return Refuse(config.error().message());
  ServiceOptions service_options;
  service_options.admin_token = Env(config->admin_token_env);
  service_options.reader_token = Env(config->reader_token_env);
  if (service_options.admin_token.empty()) {
    return Refuse("set the admin token in $" + config->admin_token_env +
                  " (auth.admin_token_env): the control API refuses to run without one");
  }
  service_options.event_log = [](std::string_view line) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  };

  // Block the shutdown signals in every thread; this one waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto service = Service::Start(*config, service_options);
  if (!service) {
    std::cerr << "mlcanary serve: " << service.error().message() << "\n";
    return service.error().code() == core::ErrorCode::kValidation ? 2 : 1;
  }
  if (config->backend == config::Backend::kSagemaker) {
    spdlog::info("mlcanary serve: SageMaker backend, control API on {} (port {}), {}",
                 config->control_listen, (*service)->control_port(), config->store);
  } else {
    spdlog::info("mlcanary serve: inference on {} (port {}), control API on {} (port {}), {}",
                 config->inference_listen, (*service)->inference_port(), config->control_listen,
                 (*service)->control_port(), config->store);
  }
  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("mlcanary serve: signal {} received, shutting down", received);
  (*service)->Stop();
  return 0;
}

}  // namespace mlcanary::app
