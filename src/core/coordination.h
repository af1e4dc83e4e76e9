// The ports that let several replicas share one store (the fleet shape of
// DESIGN.md): a leader lease, so that exactly one replica runs the controller,
// and a change feed, so that every replica's router follows the endpoint
// records the leader writes. A store that offers them (PostgreSQL) implements
// both beside DeploymentStore.
#ifndef MLCANARY_CORE_COORDINATION_H_
#define MLCANARY_CORE_COORDINATION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/time.h"

namespace mlcanary::core {

// The lease as granted: a fencing number that grows every time the lease
// changes hands (never reused), and how long it is valid from the moment the
// call was made. The store's writes made on behalf of a leader carry the
// fencing number and are refused once a newer one was granted, so a leader
// that was paused past its lease cannot write after another took over.
struct LeaseGrant {
  std::int64_t fencing = 0;
  Duration ttl{};
};

// Who holds the lease now (for status pages and for the replicas that are not
// leader). An empty holder: nobody, or the last holder's lease expired.
struct LeaseHolder {
  std::string holder;
  std::int64_t fencing = 0;
};

// One named lease in the store ("controller"). Time is the store's own clock,
// never the replicas' (their clocks may disagree). Thread-safe.
class LeaderLease {
 public:
  virtual ~LeaderLease() = default;
  // Takes the lease for `holder` when it is free, expired or already held by
  // `holder`, and makes it valid for `ttl` from now. Returns the grant, or
  // nullopt when another holder's lease is still valid. A holder that renews
  // keeps its fencing number; a new holder gets a greater one.
  virtual Result<std::optional<LeaseGrant>> TryAcquire(std::string_view holder, Duration ttl) = 0;
  // Gives the lease up (a clean stop) so that another replica takes over at
  // once instead of after the lease time. Does nothing when `holder` does not
  // hold it with `fencing`.
  virtual Status Release(std::string_view holder, std::int64_t fencing) = 0;
  virtual Result<LeaseHolder> Current() = 0;
};

// Tells a replica that the store's endpoint records or deployments changed.
// Thread-safe; one waiter at a time.
class ChangeFeed {
 public:
  virtual ~ChangeFeed() = default;
  // Blocks until a change committed after the previous call (or after the
  // feed was opened), or `timeout` passed. True: something changed (read the
  // store again); false: the timeout passed. An error (the store's connection
  // broke) is returned after at most `timeout`; the next call reconnects.
  virtual Result<bool> WaitForChange(Duration timeout) = 0;
  // Makes a WaitForChange in progress (or the next one) return at once, for a
  // clean stop.
  virtual void Interrupt() = 0;
};

}  // namespace mlcanary::core

#endif  // MLCANARY_CORE_COORDINATION_H_
