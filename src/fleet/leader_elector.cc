#include "fleet/leader_elector.h"

#include <algorithm>
#include <utility>

namespace mlcanary::fleet {

LeaderElector::LeaderElector(core::LeaderLease& lease, ElectorOptions options, OnElected on_elected,
                             OnDeposed on_deposed)
    : lease_(lease),
      options_(std::move(options)),
      renew_every_(options_.renew_every > core::Duration::zero() ? options_.renew_every
                                                                 : options_.ttl / 3),
      on_elected_(std::move(on_elected)),
      on_deposed_(std::move(on_deposed)) {}

LeaderElector::~LeaderElector() { Stop(); }

void LeaderElector::Start() {
  {
    std::lock_guard lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void LeaderElector::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (leading_) {
    const std::int64_t fencing = fencing_;
    StepDown("stopping");
    if (auto s = lease_.Release(options_.holder, fencing); !s && options_.log) {
      options_.log("controller lease not released (another replica takes over when it expires): " +
                   s.error().ToString());
    }
  }
}

void LeaderElector::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    const core::Duration wait = Step(std::chrono::steady_clock::now());
    lock.lock();
    cv_.wait_for(lock, wait, [this] { return stop_; });
  }
}

void LeaderElector::StepDown(std::string_view why) {
  leading_ = false;
  if (options_.log) options_.log("controller lease: stepping down: " + std::string(why));
  if (on_deposed_) on_deposed_(why);
}

core::Duration LeaderElector::Step(SteadyTime now) {
  auto granted = lease_.TryAcquire(options_.holder, options_.ttl);
  if (!granted) {
    if (!failing_ && options_.log) {
      options_.log("controller lease: " + granted.error().ToString());
    }
    failing_ = true;
    if (leading_) {
      // valid_until_ counts from before the last successful call: never later
      // than the store's own expiry of the lease. (A call that hangs is
      // bounded by the store adapter's timeouts; a write made meanwhile is
      // refused by its fencing number.)
      if (now >= valid_until_) {
        StepDown("lease not renewed before it ran out: " + granted.error().ToString());
      } else {
        return std::min(options_.retry_every,
                        std::chrono::ceil<core::Duration>(valid_until_ - now));
      }
    }
    return options_.retry_every;
  }
  if (failing_ && options_.log) options_.log("controller lease: the store answers again");
  failing_ = false;
  if (!granted->has_value()) {
    if (leading_) StepDown("another replica holds the lease");
    return options_.retry_every;
  }
  const core::LeaseGrant grant = **granted;
  if (leading_ && grant.fencing != fencing_) {
    // Lost and taken back between two rounds: whatever this replica started
    // under the old number must stop before it acts under the new one.
    StepDown("the lease changed hands in between");
  }
  valid_until_ = now + grant.ttl;
  if (!leading_) {
    fencing_ = grant.fencing;
    leading_ = true;
    if (options_.log) {
      options_.log("controller lease: leader (fencing " + std::to_string(grant.fencing) + ")");
    }
    if (on_elected_) on_elected_(grant.fencing);
  }
  return renew_every_;
}

}  // namespace mlcanary::fleet
