// ControllerLoop: the controller's heartbeat in a live service. A thread that
// calls Controller::Tick() every `interval` (and at once when woken), and hands
// each tick's outcomes to an observer (logs, /metrics).
#ifndef MLCANARY_CONTROLLER_CONTROLLER_LOOP_H_
#define MLCANARY_CONTROLLER_CONTROLLER_LOOP_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

#include "controller/controller.h"

namespace mlcanary::controller {

// Start/Stop from one owner thread; Wake is thread-safe.
class ControllerLoop {
 public:
  using Observer = std::function<void(const core::Result<std::vector<CheckOutcome>>&)>;

  ControllerLoop(Controller& controller, core::Duration interval, Observer observer);
  ~ControllerLoop();  // Stop()
  ControllerLoop(const ControllerLoop&) = delete;
  ControllerLoop& operator=(const ControllerLoop&) = delete;

  void Start();
  // Finishes the tick in progress, then returns. Idempotent.
  void Stop();
  // Runs the next tick now instead of at the end of the interval.
  void Wake();

 private:
  void Run(std::stop_token stop);

  Controller& controller_;
  const core::Duration interval_;
  Observer observer_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  bool woken_ = false;  // GUARDED_BY(mu_)
  std::jthread thread_;
};

}  // namespace mlcanary::controller

#endif  // MLCANARY_CONTROLLER_CONTROLLER_LOOP_H_
