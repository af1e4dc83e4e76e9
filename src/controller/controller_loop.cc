// The controller's periodic tick.
#include "controller/controller_loop.h"

namespace mlcanary::controller {

ControllerLoop::ControllerLoop(Controller& controller, core::Duration interval, Observer observer)
    : controller_(controller), interval_(interval), observer_(std::move(observer)) {}

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
}

void ControllerLoop::Wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void ControllerLoop::Run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    auto outcomes = controller_.Tick();
    if (observer_) observer_(outcomes);
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, stop, interval_, [this] { return woken_; });
    woken_ = false;
  }
}

}  // namespace mlcanary::controller
