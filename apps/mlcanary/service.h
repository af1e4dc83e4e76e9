// Service: one shape wired together. Embedded: SQLite store, metrics registry,
// gateway (its router as TrafficControl, the registry as MetricsSource).
// SageMaker: SageMaker endpoints as TrafficControl, CloudWatch as MetricsSource,
// SNS among the notifiers; the store SQLite or DynamoDB. Then in both the
// notifiers, controller and its loop, control API. `serve` and `demo` run it.
#ifndef MLCANARY_APPS_MLCANARY_SERVICE_H_
#define MLCANARY_APPS_MLCANARY_SERVICE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "config/service_config.h"
#include "core/error.h"

namespace mlcanary::app {

struct ServiceOptions {
  std::string admin_token;
  std::string reader_token;
  // Receives one structured JSON line per announced event (stdout in serve).
  std::function<void(std::string_view)> event_log;
};

// Start, Stop and the destructor are for one owner thread.
class Service {
 public:
  // Opens the store, loads every endpoint's models, reconciles the data plane
  // with the stored deployments, then listens and starts the controller loop.
  // kValidation for unusable options (exit status 2); other kinds for a
  // component that failed (exit status 1).
  static core::Result<std::unique_ptr<Service>> Start(const config::ServiceConfig& config,
                                                      ServiceOptions options);
  ~Service();  // Stop()
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  std::uint16_t inference_port() const;  // 0 with backend sagemaker (no gateway)
  std::uint16_t control_port() const;

  // Stops the controller loop, then the control API, then the gateway (which
  // finishes requests in flight). Idempotent.
  void Stop();

  struct Parts;

 private:
  explicit Service(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace mlcanary::app

#endif  // MLCANARY_APPS_MLCANARY_SERVICE_H_
