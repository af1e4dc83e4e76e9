#ifndef MLCANARY_HTTP_LAZY_DEADLINE_H_
#define MLCANARY_HTTP_LAZY_DEADLINE_H_

#include <chrono>
#include <cstdint>
#include <utility>

namespace mlcanary::http {

// One deadline kept by one timer that is re-armed lazily, for a connection
// whose every request moves its deadline: moving the deadline later costs no
// timer operation (the wait in flight fires at the point it was armed for and
// re-arms itself for the new one); only arming an idle timer, or moving the
// deadline earlier, touches the timer. When the deadline passes, the owner's
// OnDeadline() runs on the timer's executor.
//
// Timer: an asio basic_waitable_timer. Owner: derives from
// std::enable_shared_from_this and holds this object as a member; each wait
// keeps the owner alive (the owner may befriend LazyDeadline to keep
// OnDeadline private). Not thread-safe: use it on the owner's executor only.
template <class Timer>
class LazyDeadline {
 public:
  using Clock = typename Timer::clock_type;
  using TimePoint = typename Clock::time_point;

  explicit LazyDeadline(Timer timer) : timer_(std::move(timer)) {}

  template <class Owner>
  void Set(TimePoint deadline, Owner& owner) {
    deadline_ = deadline;
    if (armed_ && armed_at_ <= deadline) return;  // it re-arms when it fires
    Arm(deadline, owner.shared_from_this());
  }

  // No deadline: the wait in flight, if any, finds nothing to do.
  void Clear() { deadline_ = kNone; }

  // No deadline and no wait: the owner is no longer kept alive by the timer.
  void Cancel() {
    Clear();
    ++generation_;
    armed_ = false;
    timer_.cancel();
  }

 private:
  static constexpr TimePoint kNone = TimePoint::max();

  template <class OwnerPtr>
  void Arm(TimePoint at, OwnerPtr owner) {
    armed_ = true;
    armed_at_ = at;
    const std::uint64_t generation = ++generation_;
    timer_.expires_at(at);  // cancels a pending wait; its handler sees the old generation
    timer_.async_wait([this, owner = std::move(owner), generation](const auto& /*ec*/) mutable {
      if (generation != generation_) return;
      armed_ = false;
      if (deadline_ == kNone) return;
      if (Clock::now() < deadline_) return Arm(deadline_, std::move(owner));
      owner->OnDeadline();
    });
  }

  Timer timer_;
  TimePoint deadline_ = kNone;
  TimePoint armed_at_{};
  std::uint64_t generation_ = 0;
  bool armed_ = false;
};

}  // namespace mlcanary::http

#endif  // MLCANARY_HTTP_LAZY_DEADLINE_H_
