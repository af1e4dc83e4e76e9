// AsyncDelivery: the delivery worker shared by the notifiers that talk to the
// network (webhooks, SNS): a bounded queue that drops its oldest item when
// full, one background thread calling `deliver` on each item in order, and a
// Stop() that keeps delivering until a drain deadline, then gives up on the
// rest. Enqueue() never blocks on delivery.
#ifndef MLCANARY_NOTIFY_ASYNC_DELIVERY_H_
#define MLCANARY_NOTIFY_ASYNC_DELIVERY_H_

#include <atomic>
#include <bit>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "core/clock.h"

namespace mlcanary::notify {

struct AsyncDeliveryCounters {
  std::uint64_t delivered = 0;  // deliver() returned true
  std::uint64_t failed = 0;     // deliver() returned false
  std::uint64_t dropped = 0;    // never handed to deliver: queue full, after Stop(), undrained
  std::uint64_t queued = 0;     // waiting now (a gauge)
};

template <typename T>
class AsyncDelivery {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  struct Options {
    std::size_t capacity = 1000;  // items waiting; must be >= 1
    // Stop() hands queued items to deliver for at most this long, then drops
    // the rest. Zero: whatever is queued at Stop() is dropped.
    core::Duration drain_timeout = std::chrono::seconds(5);
    // Runs on the worker thread, one item at a time, in Enqueue() order: true
    // when delivered, false when given up. It should end soon after the drain
    // deadline (StopDeadline(), WaitFor()): Stop() joins the thread, so a
    // deliver that ignores the deadline holds Stop() as long as it runs.
    std::function<bool(T& item)> deliver;
    // Called (outside the lock) on the 1st, 2nd, 4th, 8th... drop of a full
    // queue, with the number of such drops so far: a full queue drops on every
    // Enqueue() and would otherwise flood the log.
    std::function<void(std::uint64_t overflow_drops)> on_overflow;
    // Called (on the worker thread) with how many queued items were dropped
    // because the drain deadline had passed.
    std::function<void(std::size_t dropped)> on_abandoned;
    // Called by BeginStop() once the stop flag and deadline are set (e.g. to
    // wake a request in flight so that it re-reads StopDeadline()).
    std::function<void()> on_stop;
  };

  explicit AsyncDelivery(Options options) : options_(std::move(options)) {}
  ~AsyncDelivery() { Stop(); }
  AsyncDelivery(const AsyncDelivery&) = delete;
  AsyncDelivery& operator=(const AsyncDelivery&) = delete;

  // Starts the worker thread. Call once, before Enqueue() matters.
  void Start() {
    thread_ = std::thread([this] { Run(); });
  }

  // Queues `item`, dropping the oldest waiting one when full; after
  // BeginStop() drops `item` itself. Both are counted. Never blocks on deliver.
  void Enqueue(T item) {
    std::uint64_t overflowed = 0;
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      if (queue_.size() >= options_.capacity) {
        queue_.pop_front();
        dropped_.fetch_add(1, std::memory_order_relaxed);
        overflowed = ++overflowed_;
      }
      queue_.push_back(std::move(item));
    }
    cv_.notify_all();
    if (overflowed != 0 && std::has_single_bit(overflowed) && options_.on_overflow) {
      options_.on_overflow(overflowed);
    }
  }

  // Begins draining towards `deadline`. Only the first call sets it.
  void BeginStop(SteadyTime deadline) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      deadline_ = deadline;
    }
    cv_.notify_all();
    if (options_.on_stop) options_.on_stop();
  }

  // Waits for the worker to finish draining (or give up at the deadline).
  void Join() {
    std::lock_guard lock(join_mu_);
    if (thread_.joinable()) thread_.join();
  }

  // BeginStop(now + drain_timeout), then Join(). Idempotent.
  void Stop() {
    BeginStop(std::chrono::steady_clock::now() + options_.drain_timeout);
    Join();
  }

  // The drain deadline once stopping; nullopt before. For deliver.
  std::optional<SteadyTime> StopDeadline() const {
    std::lock_guard lock(mu_);
    if (!stopping_) return std::nullopt;
    return deadline_;
  }

  // Sleeps `d` (e.g. a retry's backoff); false, as soon as it is known, when
  // stopping leaves no time for it (the wait would end past the deadline).
  // For deliver, on the worker thread.
  bool WaitFor(core::Duration d) {
    const SteadyTime wake = std::chrono::steady_clock::now() + d;
    std::unique_lock lock(mu_);
    if (!cv_.wait_until(lock, wake, [this] { return stopping_; })) return true;
    if (wake >= deadline_) return false;
    while (std::chrono::steady_clock::now() < wake) cv_.wait_until(lock, wake);
    return true;
  }

  AsyncDeliveryCounters counters() const {
    AsyncDeliveryCounters c;
    c.delivered = delivered_.load(std::memory_order_relaxed);
    c.failed = failed_.load(std::memory_order_relaxed);
    c.dropped = dropped_.load(std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    c.queued = queue_.size();
    return c;
  }

 private:
  void Run() {
    for (;;) {
      std::optional<T> next;
      std::size_t abandoned = 0;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        if (stopping_ && std::chrono::steady_clock::now() >= deadline_) {
          abandoned = queue_.size();
          queue_.clear();
        } else {
          next.emplace(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      if (abandoned != 0) {
        dropped_.fetch_add(abandoned, std::memory_order_relaxed);
        if (options_.on_abandoned) options_.on_abandoned(abandoned);
        return;
      }
      const bool ok = options_.deliver(*next);
      (ok ? delivered_ : failed_).fetch_add(1, std::memory_order_relaxed);
    }
  }

  const Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> queue_;           // GUARDED_BY(mu_)
  bool stopping_ = false;         // GUARDED_BY(mu_)
  SteadyTime deadline_{};         // GUARDED_BY(mu_); meaningful once stopping_
  std::uint64_t overflowed_ = 0;  // GUARDED_BY(mu_)
  std::mutex join_mu_;            // serializes Join()
  std::thread thread_;
  std::atomic<std::uint64_t> delivered_{0}, failed_{0}, dropped_{0};
};

}  // namespace mlcanary::notify

#endif  // MLCANARY_NOTIFY_ASYNC_DELIVERY_H_
