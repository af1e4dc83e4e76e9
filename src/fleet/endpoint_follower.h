// EndpointFollower: makes this replica's router (its local TrafficControl)
// serve what the store's endpoint records say: the variants the leader
// created (models loaded before they get traffic), the weights it set, without
// the variants it removed. It reads the records when the change feed says they
// changed (PostgreSQL's LISTEN/NOTIFY: the leader's commit reaches every
// replica in milliseconds) and, as the safety net for a lost notification or a
// broken connection, every `resync` anyway.
//
// One sync, per endpoint record (endpoints this replica does not serve are
// left alone):
//  1. each recorded variant missing here is created at weight 0; a variant of
//     the same name with another model (the store's variant was replaced while
//     this replica was not listening) is replaced once its traffic is moved;
//  2. the weights are set as recorded, at once (Router::SetWeights);
//  3. variants the record no longer has (at weight 0 after step 2) are removed.
// A step that fails leaves the endpoint serving its last weights (it is
// counted, logged once per run of failures, and tried again next sync).
#ifndef MLCANARY_FLEET_ENDPOINT_FOLLOWER_H_
#define MLCANARY_FLEET_ENDPOINT_FOLLOWER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "core/coordination.h"
#include "core/ports.h"

namespace mlcanary::fleet {

struct FollowerOptions {
  core::Duration resync = std::chrono::seconds(5);
  std::function<void(std::string_view)> log;
  // Called on the follower's thread when the change feed reports a change,
  // before the sync it starts (the leader wakes its controller loop with it:
  // a user action recorded on another replica is carried out at once).
  std::function<void()> on_change;
};

struct FollowerStats {
  std::uint64_t syncs = 0;    // syncs run
  std::uint64_t changes = 0;  // variants created, replaced or removed, weight sets applied
  std::uint64_t errors = 0;   // syncs that failed somewhere
  std::optional<core::Error> last_error;
  // Steady time of the last sync that left every endpoint as recorded.
  std::chrono::steady_clock::time_point last_in_sync{};
};

// SyncOnce is safe from any thread (syncs are serialised); Start/Stop from
// one owner thread.
class EndpointFollower {
 public:
  // `feed` may be null (only the periodic re-read). All borrowed.
  EndpointFollower(core::DeploymentStore& store, core::ChangeFeed* feed,
                   core::TrafficControl& local, FollowerOptions options);
  ~EndpointFollower();  // Stop()
  EndpointFollower(const EndpointFollower&) = delete;
  EndpointFollower& operator=(const EndpointFollower&) = delete;

  void Start();
  void Stop();

  // Reads the endpoint records once and applies them; the first error after
  // trying every endpoint.
  core::Status SyncOnce();

  FollowerStats stats() const;

 private:
  void Run();
  // Adds what it changed to `changes`.
  core::Status SyncEndpoint(const core::Endpoint& record, std::uint64_t& changes);
  void Count(const core::Status& result, std::uint64_t changes);

  core::DeploymentStore& store_;
  core::ChangeFeed* const feed_;
  core::TrafficControl& local_;
  const FollowerOptions options_;

  std::mutex sync_mu_;  // one sync at a time
  mutable std::mutex stats_mu_;
  FollowerStats stats_;   // GUARDED_BY(stats_mu_)
  bool failing_ = false;  // GUARDED_BY(sync_mu_)

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace mlcanary::fleet

#endif  // MLCANARY_FLEET_ENDPOINT_FOLLOWER_H_
