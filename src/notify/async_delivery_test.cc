#include "notify/async_delivery.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace mlcanary::notify {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// A flag the test opens; deliver() waits on it.
class Gate {
 public:
  void Open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  // Waits until open, or until `stop` says to give up; returns whether open.
  template <typename Stop>
  bool Wait(Stop stop) {
    std::unique_lock lock(mu_);
    while (!open_) {
      if (stop()) return false;
      cv_.wait_for(lock, milliseconds(2));
    }
    return true;
  }
  void Entered() {
    std::lock_guard lock(mu_);
    ++entered_;
    cv_.notify_all();
  }
  void WaitEntered(int n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return entered_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int entered_ = 0;
};

TEST(AsyncDeliveryTest, DeliversInOrderAndDrainsAtStop) {
  std::vector<int> seen;  // only the worker writes it until Stop() joined
  AsyncDelivery<int> d({.capacity = 10,
                        .drain_timeout = std::chrono::seconds(5),
                        .deliver =
                            [&](int& i) {
                              seen.push_back(i);
                              return i % 2 == 0;
                            },
                        .on_overflow = nullptr,
                        .on_abandoned = nullptr,
                        .on_stop = nullptr});
  d.Start();
  for (int i = 0; i < 5; ++i) d.Enqueue(i);
  d.Stop();
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4}));
  const AsyncDeliveryCounters c = d.counters();
  EXPECT_EQ(c.delivered, 3u);
  EXPECT_EQ(c.failed, 2u);
  EXPECT_EQ(c.dropped, 0u);
  EXPECT_EQ(c.queued, 0u);
  d.Enqueue(9);  // after Stop(): dropped, not delivered
  EXPECT_EQ(d.counters().dropped, 1u);
  d.Stop();  // idempotent
}

TEST(AsyncDeliveryTest, FullQueueDropsTheOldestAndLogsThrottled) {
  Gate gate;
  std::vector<int> seen;
  std::vector<std::uint64_t> overflow_logs;
  AsyncDelivery<int> d({.capacity = 3,
                        .drain_timeout = std::chrono::seconds(5),
                        .deliver =
                            [&](int& i) {
                              gate.Entered();
                              gate.Wait([] { return false; });
                              seen.push_back(i);
                              return true;
                            },
                        .on_overflow = [&](std::uint64_t n) { overflow_logs.push_back(n); },
                        .on_abandoned = nullptr,
                        .on_stop = nullptr});
  d.Start();
  d.Enqueue(0);
  gate.WaitEntered(1);                         // 0 is in deliver; the queue is empty
  for (int i = 1; i <= 12; ++i) d.Enqueue(i);  // 9 overflow: 1..9 dropped, 10..12 stay
  EXPECT_EQ(d.counters().queued, 3u);
  EXPECT_EQ(d.counters().dropped, 9u);
  EXPECT_EQ(overflow_logs, (std::vector<std::uint64_t>{1, 2, 4, 8}));
  gate.Open();
  d.Stop();
  EXPECT_EQ(seen, (std::vector<int>{0, 10, 11, 12}));
  EXPECT_EQ(d.counters().delivered, 4u);
}

TEST(AsyncDeliveryTest, StopReturnsByTheDeadlineWhenDeliverBlocks) {
  Gate gate;  // never opened: the endpoint never answers
  AsyncDelivery<int>* self = nullptr;
  std::size_t abandoned = 0;
  bool stop_hook = false;
  AsyncDelivery<int> d({.capacity = 100,
                        .drain_timeout = milliseconds(150),
                        .deliver =
                            [&](int&) {
                              gate.Entered();
                              // Waits on the flag, giving up at the drain deadline as a
                              // deliver should (the webhook aborts its request there).
                              return gate.Wait([&] {
                                const auto deadline = self->StopDeadline();
                                return deadline && steady_clock::now() >= *deadline;
                              });
                            },
                        .on_overflow = nullptr,
                        .on_abandoned = [&](std::size_t n) { abandoned = n; },
                        .on_stop = [&] { stop_hook = true; }});
  self = &d;
  d.Start();
  for (int i = 0; i < 20; ++i) d.Enqueue(i);
  gate.WaitEntered(1);
  const auto start = steady_clock::now();
  d.Stop();
  const auto took = steady_clock::now() - start;
  EXPECT_GE(took, milliseconds(140));
  EXPECT_LT(took, milliseconds(1500));
  EXPECT_TRUE(stop_hook);
  const AsyncDeliveryCounters c = d.counters();
  EXPECT_EQ(c.delivered, 0u);
  EXPECT_EQ(c.failed, 1u);    // the one in flight, cut off
  EXPECT_EQ(c.dropped, 19u);  // the rest, never attempted
  EXPECT_EQ(abandoned, 19u);
  EXPECT_EQ(c.queued, 0u);
}

TEST(AsyncDeliveryTest, RetryWaitsEndEarlyWhenShutdownLeavesNoTimeForThem) {
  Gate gate;
  AsyncDelivery<int>* self = nullptr;
  int attempts = 0;
  AsyncDelivery<int> d({.capacity = 10,
                        .drain_timeout = milliseconds(100),
                        .deliver =
                            [&](int&) {
                              gate.Entered();
                              // Keeps failing, backing off a minute between attempts.
                              for (;;) {
                                ++attempts;
                                if (!self->WaitFor(std::chrono::minutes(1))) return false;
                              }
                            },
                        .on_overflow = nullptr,
                        .on_abandoned = nullptr,
                        .on_stop = nullptr});
  self = &d;
  d.Start();
  d.Enqueue(1);
  d.Enqueue(2);
  gate.WaitEntered(1);
  const auto start = steady_clock::now();
  d.Stop();
  EXPECT_LT(steady_clock::now() - start, milliseconds(1500));
  // Each item gets its first attempt (there is time left for that), but no
  // minute-long backoff: both give up at once.
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ(d.counters().failed, 2u);
  EXPECT_EQ(d.counters().dropped, 0u);
}

TEST(AsyncDeliveryTest, ShortWaitsBeforeTheDeadlineAreKept) {
  AsyncDelivery<int>* self = nullptr;
  bool waited = false;
  AsyncDelivery<int> d({.capacity = 10,
                        .drain_timeout = std::chrono::seconds(5),
                        .deliver =
                            [&](int&) {
                              waited = self->WaitFor(milliseconds(20));
                              return true;
                            },
                        .on_overflow = nullptr,
                        .on_abandoned = nullptr,
                        .on_stop = nullptr});
  self = &d;
  d.Start();
  d.Enqueue(1);
  d.Stop();
  EXPECT_TRUE(waited);
  EXPECT_EQ(d.counters().delivered, 1u);
}

}  // namespace
}  // namespace mlcanary::notify
