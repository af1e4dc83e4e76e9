// AcceptPacer: the pacing of a server's accept loop, shared by the control
// server (http::HttpServer) and the gateway: a cap on open connections,
// pauses that grow while accept() fails for want of file descriptors or
// memory (instead of retrying at once, which spins a core), and log lines
// throttled to one per interval with a count of those held back.
#ifndef MLCANARY_HTTP_ACCEPT_PACER_H_
#define MLCANARY_HTTP_ACCEPT_PACER_H_

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/system/error_code.hpp>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace mlcanary::http {

// Whether accept() failed for the one connection being accepted (reset or
// aborted before it was accepted, or a network error Linux passes on, see
// accept(2)): the next accept may succeed at once. Any other error -- out of
// file descriptors (EMFILE, ENFILE), socket buffers (ENOBUFS) or memory
// (ENOMEM), or anything unexpected -- fails again when retried at once.
inline bool IsConnectionAcceptError(const boost::system::error_code& ec) {
  if (ec.category() != boost::system::system_category()) return false;
  switch (ec.value()) {
    case ECONNABORTED:
    case ECONNRESET:
    case EPROTO:
    case EPERM:  // a firewall rule refused this connection
    case EINTR:
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
#ifdef ENONET
    case ENONET:
#endif
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return true;
    default:
      return false;
  }
}

struct AcceptPacerOptions {
  // Connections open at once. At the cap the loop stops accepting: new
  // connections wait in the kernel's listen backlog until one closes.
  // 0: no cap.
  std::size_t max_connections = 0;
  // After an accept() that failed for want of resources: the first pause,
  // doubled on each failure in a row up to max_pause.
  std::chrono::milliseconds min_pause{10};
  std::chrono::milliseconds max_pause{1000};
  // At most one log line per interval; the next line counts those held back.
  std::chrono::milliseconds log_interval{1000};
  std::string cap_name = "max_connections";    // names the cap in log lines
  std::function<void(std::string_view)> warn;  // receives the log lines
};

// Drives one acceptor. `accept` starts one asynchronous accept, whose
// completion handler calls OnAccepted() or OnError() -- except when the
// acceptor was closed. Start, OnAccepted, OnError and Stop run on the timer's
// executor, which must be the acceptor's (a strand if several threads run
// it). A Slot, the count of one open connection, may be released on any
// thread. Destroy the pacer once no thread runs that executor any more.
//
// Timer: an asio basic_waitable_timer.
template <class Timer>
class AcceptPacer {
  struct State {
    std::mutex mu;
    std::size_t open = 0;  // GUARDED_BY(mu)
    std::size_t max = 0;
    bool paused = false;           // at the cap: no accept in flight; GUARDED_BY(mu)
    bool stopped = false;          // GUARDED_BY(mu)
    std::function<void()> resume;  // GUARDED_BY(mu); empty once stopped
  };

 public:
  using Clock = typename Timer::clock_type;

  // Counts one open connection until it is destroyed; keep it with the
  // connection. Releasing it below the cap resumes a paused loop.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&&) noexcept = default;
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        Release();
        state_ = std::move(other.state_);
      }
      return *this;
    }
    ~Slot() { Release(); }

   private:
    friend class AcceptPacer;
    explicit Slot(std::shared_ptr<State> state) : state_(std::move(state)) {}

    void Release() {
      if (!state_) return;
      std::function<void()> resume;
      {
        std::lock_guard lock(state_->mu);
        --state_->open;
        if (state_->paused && !state_->stopped && state_->open < state_->max) {
          state_->paused = false;
          resume = state_->resume;
        }
      }
      state_.reset();
      if (resume) resume();
    }

    std::shared_ptr<State> state_;
  };

  AcceptPacer(Timer timer, AcceptPacerOptions options, std::function<void()> accept)
      : timer_(std::move(timer)),
        options_(std::move(options)),
        accept_(std::move(accept)),
        state_(std::make_shared<State>()),
        pause_(options_.min_pause) {
    state_->max = options_.max_connections;
    state_->resume = [this, executor = timer_.get_executor()] {
      boost::asio::post(executor, [this] { AcceptNow(); });
    };
  }
  ~AcceptPacer() {
    std::lock_guard lock(state_->mu);
    state_->stopped = true;
    state_->resume = nullptr;
  }
  AcceptPacer(const AcceptPacer&) = delete;
  AcceptPacer& operator=(const AcceptPacer&) = delete;

  // Starts the first accept.
  void Start() { AcceptNow(); }

  // An accepted connection: counts it (keep the Slot with it), then accepts
  // the next one now, or pauses at the cap until a connection closes.
  [[nodiscard]] Slot OnAccepted() {
    pause_ = options_.min_pause;
    bool at_cap = false;
    std::size_t open = 0;
    {
      std::lock_guard lock(state_->mu);
      open = ++state_->open;
      if (state_->stopped) return Slot(state_);
      at_cap = state_->max != 0 && open >= state_->max;
      state_->paused = at_cap;
    }
    if (at_cap) {
      Warn(std::to_string(open) + " connections open, the cap (" + options_.cap_name +
           "): new connections wait in the listen backlog until one closes");
    } else {
      accept_();
    }
    return Slot(state_);
  }

  // A failed accept: accepts again now when only that connection failed,
  // else after a pause that doubles while the failures go on.
  void OnError(const boost::system::error_code& ec) {
    if (IsConnectionAcceptError(ec)) {
      Warn("accept failed: " + ec.message());
      return AcceptNow();
    }
    const std::chrono::milliseconds pause = pause_;
    pause_ = std::min(pause_ * 2, options_.max_pause);
    Warn("accept failed: " + ec.message() + "; pausing accepts for " +
         std::to_string(pause.count()) + "ms");
    timer_.expires_after(pause);
    timer_.async_wait([this](const boost::system::error_code&) { AcceptNow(); });
  }

  // No accept after this one; a pause in progress ends. Idempotent.
  void Stop() {
    {
      std::lock_guard lock(state_->mu);
      state_->stopped = true;
      state_->resume = nullptr;
    }
    timer_.cancel();
  }

  // Connections counted now (thread-safe).
  std::size_t open_connections() const {
    std::lock_guard lock(state_->mu);
    return state_->open;
  }

 private:
  void AcceptNow() {
    {
      std::lock_guard lock(state_->mu);
      if (state_->stopped) return;
    }
    accept_();
  }

  void Warn(std::string line) {
    const auto now = Clock::now();
    if (logged_ && now - last_log_ < options_.log_interval) {
      ++held_back_;
      return;
    }
    if (held_back_ > 0) {
      line += " (" + std::to_string(held_back_) + " similar lines held back)";
    }
    held_back_ = 0;
    logged_ = true;
    last_log_ = now;
    if (options_.warn) options_.warn(line);
  }

  Timer timer_;
  const AcceptPacerOptions options_;
  const std::function<void()> accept_;
  const std::shared_ptr<State> state_;
  // On the executor only:
  std::chrono::milliseconds pause_;
  typename Clock::time_point last_log_{};
  bool logged_ = false;
  std::uint64_t held_back_ = 0;
};

}  // namespace mlcanary::http

#endif  // MLCANARY_HTTP_ACCEPT_PACER_H_
