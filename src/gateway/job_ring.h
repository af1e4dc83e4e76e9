// A bounded ring of jobs that many threads push into and many pop from, with
// no lock (D. Vyukov's bounded MPMC queue: each slot carries a sequence number
// that says whose turn it is). The shadow queue's hand-off between the request
// threads and the shadow threads: a shadow thread runs at the lowest priority,
// and one preempted while holding a lock the request threads need would hold
// them up; here a preempted thread holds up no other.
#ifndef MLCANARY_GATEWAY_JOB_RING_H_
#define MLCANARY_GATEWAY_JOB_RING_H_

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

namespace mlcanary::gateway {

class JobRing {
 public:
  using Job = std::move_only_function<void()>;

  // Room for at least `capacity` jobs (rounded up to a power of two, at least 2).
  explicit JobRing(std::size_t capacity)
      : size_(std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity)),
        slots_(std::make_unique<Slot[]>(size_)) {
    for (std::size_t i = 0; i < size_; ++i) slots_[i].seq.store(i, std::memory_order_relaxed);
  }
  JobRing(const JobRing&) = delete;
  JobRing& operator=(const JobRing&) = delete;

  std::size_t size() const { return size_; }

  // Moves `job` in; false (and `job` left as it was) when the ring is full.
  bool TryPush(Job& job) {
    std::size_t pos = head_.load(std::memory_order_relaxed);
    for (;;) {
      Slot& slot = slots_[pos & (size_ - 1)];
      const std::size_t seq = slot.seq.load(std::memory_order_acquire);
      const auto lag = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos);
      if (lag == 0) {
        // The slot is free for position `pos`: claim the position.
        if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          slot.job = std::move(job);
          slot.seq.store(pos + 1, std::memory_order_release);  // now the consumer's
          return true;
        }
      } else if (lag < 0) {
        return false;  // the slot still holds the job of a lap ago: full
      } else {
        pos = head_.load(std::memory_order_relaxed);  // another producer took `pos`
      }
    }
  }

  // Moves the oldest job into `out`; false when the ring is empty.
  bool TryPop(Job& out) {
    std::size_t pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      Slot& slot = slots_[pos & (size_ - 1)];
      const std::size_t seq = slot.seq.load(std::memory_order_acquire);
      const auto lag = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos + 1);
      if (lag == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          out = std::move(slot.job);
          slot.job = nullptr;
          slot.seq.store(pos + size_, std::memory_order_release);  // free for the next lap
          return true;
        }
      } else if (lag < 0) {
        return false;  // not written yet: empty
      } else {
        pos = tail_.load(std::memory_order_relaxed);
      }
    }
  }

  // True when a job is ready to pop (a hint: another thread may pop it first).
  bool HasJob() const {
    const std::size_t pos = tail_.load(std::memory_order_acquire);
    return slots_[pos & (size_ - 1)].seq.load(std::memory_order_acquire) == pos + 1;
  }

 private:
  struct Slot {
    std::atomic<std::size_t> seq{0};
    Job job;
  };
  const std::size_t size_;
  const std::unique_ptr<Slot[]> slots_;
  alignas(64) std::atomic<std::size_t> head_{0};  // the next position to push
  alignas(64) std::atomic<std::size_t> tail_{0};  // the next position to pop
};

}  // namespace mlcanary::gateway

#endif  // MLCANARY_GATEWAY_JOB_RING_H_
