// ControllerStatus: the controller's own state per endpoint (deployment state,
// canary weight, last verdict, check counts), kept for Prometheus exposition.
#ifndef MLCANARY_METRICS_CONTROLLER_STATUS_H_
#define MLCANARY_METRICS_CONTROLLER_STATUS_H_

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/health.h"
#include "core/state_machine.h"
#include "core/types.h"

namespace mlcanary::metrics {

inline constexpr int kNumVerdicts = 7;          // core::Verdict
inline constexpr int kNumDeploymentStates = 7;  // core::DeploymentState

// What is known about one endpoint's rollouts.
struct EndpointRolloutStatus {
  std::string endpoint;
  // The latest deployment seen on the endpoint (kept after it ends, so the
  // final state stays visible); empty id when none.
  std::string deployment_id;
  std::optional<core::DeploymentState> state;
  double canary_weight = 0;
  bool paused = false;
  std::optional<core::Verdict> last_verdict;
  std::array<std::int64_t, kNumVerdicts> checks{};  // by core::Verdict
  // Checks that could not read their inputs, apply their decision or record it.
  std::int64_t check_errors = 0;
  // The last of them: its error and when (empty when none is known).
  std::string last_check_error;
  std::optional<core::Timestamp> last_check_error_at;
  // Rollbacks decided while the store could not record them (traffic went to
  // production; the record followed later).
  std::int64_t unrecorded_rollbacks = 0;
  std::array<std::int64_t, kNumDeploymentStates> transitions{};  // by target state
};

// Written by the controller (or a Notifier wrapper), read by the /metrics
// handler. Thread-safe; a mutex, as nothing here is on the request path.
class ControllerStatus {
 public:
  void SetDeployment(std::string_view endpoint, std::string_view deployment_id,
                     core::DeploymentState state, double canary_weight, bool paused);
  // The deployment's current state, weight and paused flag.
  void Observe(const core::Deployment& deployment);
  void RecordCheck(std::string_view endpoint, core::Verdict verdict);
  void RecordCheckError(std::string_view endpoint);
  // Counts the error and keeps it as the endpoint's last check error.
  void RecordCheckError(std::string_view endpoint, std::string_view error, core::Timestamp at);
  void RecordUnrecordedRollback(std::string_view endpoint);
  void RecordTransition(std::string_view endpoint, core::DeploymentState to);
  // Observe(deployment), then count the event: a check (its verdict), an
  // error, or a transition (its target state).
  void ObserveEvent(const core::Deployment& deployment, const core::DeploymentEvent& event);
  // Forgets the endpoint (its deployment and counters).
  void Forget(std::string_view endpoint);

  // Every endpoint seen, by name.
  std::vector<EndpointRolloutStatus> Endpoints() const;

 private:
  EndpointRolloutStatus& EntryLocked(std::string_view endpoint);  // REQUIRES: mu_ held

  mutable std::mutex mu_;
  std::map<std::string, EndpointRolloutStatus, std::less<>> endpoints_;  // GUARDED_BY(mu_)
};

}  // namespace mlcanary::metrics

#endif  // MLCANARY_METRICS_CONTROLLER_STATUS_H_
