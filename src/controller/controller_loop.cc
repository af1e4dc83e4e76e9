// The controller's periodic tick.
#include "controller/controller_loop.h"

namespace mlcanary::controller {

ControllerLoop::ControllerLoop(Controller& controller, core::Duration interval, Observer observer,
                               ControllerLoopOptions options)
    : controller_(controller),
      interval_(interval),
      observer_(std::move(observer)),
      options_(options) {}

ControllerLoop::~ControllerLoop() { Stop(); }

void ControllerLoop::Start() {
  if (thread_.joinable()) return;
  thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
}

void ControllerLoop::Stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  cv_.notify_all();
  thread_.join();
  JoinWorkers(/*finished_only=*/false);
}

void ControllerLoop::Wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void ControllerLoop::Observe(const core::Result<std::vector<CheckOutcome>>& outcomes) {
  if (!observer_) return;
  std::lock_guard lock(observer_mu_);
  observer_(outcomes);
}

void ControllerLoop::Dispatch() {
  JoinWorkers(/*finished_only=*/true);
  std::vector<CheckOutcome> unreadable;
  auto active = controller_.ActiveDeployments(&unreadable);
  if (!active) return Observe(std::unexpected(active.error()));
  if (!unreadable.empty()) Observe(unreadable);
  std::lock_guard lock(workers_mu_);
  for (const core::Deployment& d : *active) {
    if (workers_.contains(d.id)) continue;  // still busy with the last tick's work
    workers_.emplace(d.id, std::thread([this, d] {
                       if (auto outcome = controller_.TickOne(d)) {
                         Observe(std::vector<CheckOutcome>{std::move(*outcome)});
                       }
                       std::lock_guard done(workers_mu_);
                       finished_.push_back(d.id);
                     }));
  }
}

void ControllerLoop::JoinWorkers(bool finished_only) {
  std::vector<std::thread> joining;
  {
    std::lock_guard lock(workers_mu_);
    if (finished_only) {
      for (const std::string& id : finished_) {
        auto it = workers_.find(id);
        if (it == workers_.end()) continue;
        joining.push_back(std::move(it->second));
        workers_.erase(it);
      }
    } else {
      for (auto& [id, worker] : workers_) joining.push_back(std::move(worker));
      workers_.clear();
    }
    finished_.clear();
  }
  for (std::thread& t : joining) t.join();
}

void ControllerLoop::Run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    if (options_.worker_per_deployment) {
      Dispatch();
    } else {
      Observe(controller_.Tick());
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, stop, interval_, [this] { return woken_; });
    woken_ = false;
  }
}

}  // namespace mlcanary::controller
