#include "fleet/leader_elector.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace mlcanary::fleet {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

// The lease as a store keeps it, on the store's own clock (`store_now`).
class LeaseTable final : public core::LeaderLease {
 public:
  core::Result<std::optional<core::LeaseGrant>> TryAcquire(std::string_view holder,
                                                           core::Duration ttl) override {
    std::lock_guard lock(mu);
    if (down) return std::unexpected(core::Error(core::ErrorCode::kUnavailable, "store down"));
    const bool free = holder_now.empty() || expires_at <= store_now;
    if (!free && holder_now != holder) return std::nullopt;
    if (holder_now != holder || expires_at <= store_now) {
      holder_now = holder;
      ++fencing_now;
    }
    expires_at = store_now + ttl;
    return core::LeaseGrant{.fencing = fencing_now, .ttl = ttl};
  }
  core::Status Release(std::string_view holder, std::int64_t fencing) override {
    std::lock_guard lock(mu);
    if (holder_now == holder && fencing_now == fencing) holder_now.clear();
    return core::Ok();
  }
  core::Result<core::LeaseHolder> Current() override {
    std::lock_guard lock(mu);
    if (expires_at <= store_now) return core::LeaseHolder{};
    return core::LeaseHolder{.holder = holder_now, .fencing = fencing_now};
  }

  std::mutex mu;
  std::string holder_now;
  std::int64_t fencing_now = 0;
  core::Duration store_now{};
  core::Duration expires_at{};
  bool down = false;
};

struct Calls {
  std::vector<std::string> seen;  // "elected 3", "deposed: why"
};

LeaderElector MakeElector(LeaseTable& lease, std::string holder, Calls& calls) {
  return LeaderElector(
      lease, ElectorOptions{.holder = std::move(holder), .ttl = 10s},
      [&calls](std::int64_t f) { calls.seen.push_back("elected " + std::to_string(f)); },
      [&calls](std::string_view why) { calls.seen.push_back("deposed: " + std::string(why)); });
}

TEST(LeaderElectorTest, TakesAFreeLeaseAndRenewsWithoutAnotherElection) {
  LeaseTable lease;
  Calls calls;
  LeaderElector a = MakeElector(lease, "a", calls);
  const Steady::time_point t0{};
  EXPECT_EQ(a.Step(t0), core::Duration(10s) / 3);
  EXPECT_TRUE(a.leading());
  EXPECT_EQ(a.fencing(), 1);
  lease.store_now += 3s;
  a.Step(t0 + 3s);
  EXPECT_EQ(calls.seen, (std::vector<std::string>{"elected 1"}));
  EXPECT_EQ(lease.expires_at, core::Duration(13s));
}

TEST(LeaderElectorTest, AnotherReplicaTakesOverOnlyAfterTheLeaseRunsOut) {
  LeaseTable lease;
  Calls calls_a, calls_b;
  LeaderElector a = MakeElector(lease, "a", calls_a);
  LeaderElector b = MakeElector(lease, "b", calls_b);
  a.Step(Steady::time_point{});
  EXPECT_EQ(b.Step(Steady::time_point{}), core::Duration(1s));
  EXPECT_FALSE(b.leading());

  // `a` stops renewing (killed): `b` waits out the lease.
  lease.store_now = 9s;
  b.Step(Steady::time_point{} + 9s);
  EXPECT_FALSE(b.leading());
  lease.store_now = 10s;
  b.Step(Steady::time_point{} + 10s);
  EXPECT_TRUE(b.leading());
  EXPECT_EQ(b.fencing(), 2);  // a greater number than a's: a's writes are refused

  // `a` comes back (it was paused): it learns it lost the lease.
  a.Step(Steady::time_point{} + 11s);
  EXPECT_FALSE(a.leading());
  EXPECT_EQ(calls_a.seen,
            (std::vector<std::string>{"elected 1", "deposed: another replica holds the lease"}));
}

TEST(LeaderElectorTest, StepsDownWhenItCannotRenewBeforeTheLeaseRunsOut) {
  LeaseTable lease;
  Calls calls;
  LeaderElector a = MakeElector(lease, "a", calls);
  const Steady::time_point t0{};
  a.Step(t0);
  lease.down = true;
  // Still within the lease: it keeps leading and tries again before it ends.
  EXPECT_EQ(a.Step(t0 + 3s), core::Duration(1s));
  EXPECT_EQ(a.Step(t0 + 9500ms), core::Duration(500ms));
  EXPECT_TRUE(a.leading());
  a.Step(t0 + 10s);
  EXPECT_FALSE(a.leading());
  ASSERT_EQ(calls.seen.size(), 2u);
  EXPECT_EQ(calls.seen[1],
            "deposed: lease not renewed before it ran out: ServiceUnavailable: store down");
  // The store answers again, the lease is still free: leader again, same holder.
  lease.down = false;
  a.Step(t0 + 11s);
  EXPECT_TRUE(a.leading());
}

TEST(LeaderElectorTest, ALeaseThatChangedHandsInBetweenIsANewElection) {
  LeaseTable lease;
  Calls calls;
  LeaderElector a = MakeElector(lease, "a", calls);
  a.Step(Steady::time_point{});
  // While `a` was paused, `b` held the lease and let it run out.
  lease.holder_now = "b";
  lease.fencing_now = 2;
  lease.store_now = lease.expires_at + 1s;
  a.Step(Steady::time_point{} + 1s);
  EXPECT_TRUE(a.leading());
  EXPECT_EQ(a.fencing(), 3);
  EXPECT_EQ(calls.seen,
            (std::vector<std::string>{"elected 1", "deposed: the lease changed hands in between",
                                      "elected 3"}));
}

TEST(LeaderElectorTest, StopStepsDownAndReleasesSoAnotherTakesOverAtOnce) {
  LeaseTable lease;
  Calls calls_a, calls_b;
  LeaderElector a = MakeElector(lease, "a", calls_a);
  a.Start();
  for (int i = 0; i < 500 && !a.leading(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(a.leading());
  a.Stop();
  EXPECT_FALSE(a.leading());
  EXPECT_EQ(calls_a.seen, (std::vector<std::string>{"elected 1", "deposed: stopping"}));
  LeaderElector b = MakeElector(lease, "b", calls_b);
  b.Step(Steady::time_point{});
  EXPECT_TRUE(b.leading());
}

}  // namespace
}  // namespace mlcanary::fleet
