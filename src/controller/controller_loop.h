// ControllerLoop: the controller's heartbeat in a live service. A thread that
// calls Controller::Tick() every `interval` (and at once when woken), and hands
// each tick's outcomes to an observer (logs, /metrics).
//
// With worker_per_deployment (SageMaker, where readying a canary or updating
// an endpoint takes minutes), each tick lists the active deployments and runs
// each one's work (Controller::TickOne) on a worker thread of its own, at most
// one at a time per deployment: a slow update of one endpoint holds up no
// other endpoint's checks or rollbacks.
#ifndef MLCANARY_CONTROLLER_CONTROLLER_LOOP_H_
#define MLCANARY_CONTROLLER_CONTROLLER_LOOP_H_

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "controller/controller.h"

namespace mlcanary::controller {

struct ControllerLoopOptions {
  bool worker_per_deployment = false;
};

// Start/Stop from one owner thread; Wake is thread-safe. The observer is
// called from one thread at a time (the loop's or a worker's).
class ControllerLoop {
 public:
  using Observer = std::function<void(const core::Result<std::vector<CheckOutcome>>&)>;

  ControllerLoop(Controller& controller, core::Duration interval, Observer observer,
                 ControllerLoopOptions options = {});
  ~ControllerLoop();  // Stop()
  ControllerLoop(const ControllerLoop&) = delete;
  ControllerLoop& operator=(const ControllerLoop&) = delete;

  void Start();
  // Finishes the tick in progress (and the workers' work), then returns. Idempotent.
  void Stop();
  // Runs the next tick now instead of at the end of the interval.
  void Wake();

 private:
  void Run(std::stop_token stop);
  void Observe(const core::Result<std::vector<CheckOutcome>>& outcomes);
  // worker_per_deployment: starts a worker for each listed deployment that has
  // none running, and joins the workers that finished.
  void Dispatch();
  void JoinWorkers(bool finished_only);

  Controller& controller_;
  const core::Duration interval_;
  Observer observer_;
  const ControllerLoopOptions options_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  bool woken_ = false;  // GUARDED_BY(mu_)
  std::mutex observer_mu_;
  std::mutex workers_mu_;
  std::map<std::string, std::thread> workers_;  // GUARDED_BY(workers_mu_), by deployment id
  std::vector<std::string> finished_;           // GUARDED_BY(workers_mu_)
  std::jthread thread_;
};

}  // namespace mlcanary::controller

#endif  // MLCANARY_CONTROLLER_CONTROLLER_LOOP_H_
