// LeaderElector: keeps this replica's claim on the controller lease
// (core::LeaderLease) and says when it becomes leader and when it stops being
// one. The leader renews every `renew_every` (a third of the lease time by
// default); the others try every `retry_every`, so a killed leader is replaced
// within the lease time plus one try. A leader that cannot renew steps down
// when its lease would have run out (measured on its own steady clock from
// before the last successful call, so never later than the store's expiry);
// the fencing number on every write it makes is what keeps a leader that was
// paused past that moment from writing (see core/coordination.h).
#ifndef MLCANARY_FLEET_LEADER_ELECTOR_H_
#define MLCANARY_FLEET_LEADER_ELECTOR_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "core/coordination.h"

namespace mlcanary::fleet {

struct ElectorOptions {
  std::string holder;  // this replica's name, unique in the fleet (host:control-port)
  core::Duration ttl = std::chrono::seconds(10);
  core::Duration renew_every{};  // zero: ttl / 3
  core::Duration retry_every = std::chrono::seconds(1);
  std::function<void(std::string_view)> log;  // one line per change of role or failed call
};

// Start/Stop from one owner thread. The callbacks run on the elector's thread,
// one at a time, deposed always after elected.
class LeaderElector {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;
  using OnElected = std::function<void(std::int64_t fencing)>;
  using OnDeposed = std::function<void(std::string_view why)>;

  LeaderElector(core::LeaderLease& lease, ElectorOptions options, OnElected on_elected,
                OnDeposed on_deposed);
  ~LeaderElector();  // Stop()
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  void Start();
  // Steps down (on_deposed, then the lease is released so that another replica
  // takes over at once) and returns. Idempotent.
  void Stop();

  bool leading() const { return leading_.load(); }
  std::int64_t fencing() const { return fencing_.load(); }

  // One round: tries the lease at `now` (steady time), calls the callbacks,
  // and returns how long to wait before the next round. The thread calls it;
  // tests call it with a time of their own.
  core::Duration Step(SteadyTime now);

 private:
  void Run();
  void StepDown(std::string_view why);

  core::LeaderLease& lease_;
  const ElectorOptions options_;
  const core::Duration renew_every_;
  OnElected on_elected_;
  OnDeposed on_deposed_;
  std::atomic<bool> leading_{false};
  std::atomic<std::int64_t> fencing_{0};
  SteadyTime valid_until_{};  // of the lease this replica holds; elector thread only
  bool failing_ = false;      // the last call failed (logged once per run of failures)

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace mlcanary::fleet

#endif  // MLCANARY_FLEET_LEADER_ELECTOR_H_
