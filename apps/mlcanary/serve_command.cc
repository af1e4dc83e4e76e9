// `mlcanary serve`: validates the config and environment, starts the Service,
// waits for SIGINT/SIGTERM, shuts down in order.
#include "serve_command.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "config/service_config.h"
#include "service.h"
#include "store/postgres_url.h"

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

// Each connection holds a file descriptor: raise the soft limit on open files
// to the hard one (often 1024 -> 524288), log both, and warn when the
// connection caps do not fit (accepts then fail with "Too many open files"
// and pause; the servers keep running).
void RaiseOpenFilesLimit(const config::ServiceConfig& config) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    spdlog::warn("mlcanary serve: cannot read the open files limit: {}", std::strerror(errno));
    return;
  }
  const rlim_t before = limit.rlim_cur;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      spdlog::warn("mlcanary serve: cannot raise the open files limit from {} to {}: {}", before,
                   limit.rlim_max, std::strerror(errno));
      limit.rlim_cur = before;
    }
  }
  spdlog::info("mlcanary serve: open files limit {} (was {}, hard limit {})", limit.rlim_cur,
               before, limit.rlim_max);
  // Descriptors beside the connections: the store, model files and upstream
  // connections, one epoll and eventfd per I/O thread, logs.
  constexpr rlim_t kReserve = 64;
  const rlim_t caps = (config.backend == config::Backend::kEmbedded
                           ? static_cast<rlim_t>(config.inference_max_connections)
                           : 0) +
                      static_cast<rlim_t>(config.control_max_connections);
  if (limit.rlim_cur != RLIM_INFINITY && caps + kReserve > limit.rlim_cur) {
    spdlog::warn(
        "mlcanary serve: listen.max_connections ({} connections in all) does not fit the open "
        "files limit {}: past it accepts fail with 'Too many open files' and pause; raise the "
        "hard limit (ulimit -Hn, systemd LimitNOFILE=) or lower the caps",
        caps, limit.rlim_cur);
  }
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

  RaiseOpenFilesLimit(*config);

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
  if (config->backend == config::Backend::kSagemaker && config->sagemaker.inference.enabled) {
    spdlog::info(
        "mlcanary serve: SageMaker backend, inference front on {} (port {}), control API on {} "
        "(port {}), {}",
        config->inference_listen, (*service)->inference_port(), config->control_listen,
        (*service)->control_port(), config->store);
  } else if (config->backend == config::Backend::kSagemaker) {
    spdlog::info("mlcanary serve: SageMaker backend, control API on {} (port {}), {}",
                 config->control_listen, (*service)->control_port(),
                 store::RedactPostgresUrl(config->store));
  } else {
    spdlog::info("mlcanary serve: inference on {} (port {}), control API on {} (port {}), {}",
                 config->inference_listen, (*service)->inference_port(), config->control_listen,
                 (*service)->control_port(), store::RedactPostgresUrl(config->store));
  }
  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("mlcanary serve: signal {} received, shutting down", received);
  (*service)->Stop();
  return 0;
}

}  // namespace mlcanary::app
