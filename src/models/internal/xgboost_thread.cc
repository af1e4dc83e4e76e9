// XgboostThread: a FIFO of jobs run by one thread.
#include "models/internal/xgboost_thread.h"

#include <atomic>
#include <exception>
#include <utility>

namespace mlcanary::models::internal {
namespace {

// Trivially destructible, so still readable while (and after) the function-local
// static below is destroyed at exit.
constinit std::atomic<bool> g_stopped{false};

}  // namespace

XgboostThread* XgboostThread::Get() {
  static XgboostThread thread;
  return g_stopped.load(std::memory_order_acquire) ? nullptr : &thread;
}

XgboostThread::XgboostThread() : thread_([this] { Loop(); }) {}

XgboostThread::~XgboostThread() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  g_stopped.store(true, std::memory_order_release);
}

void XgboostThread::Post(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void XgboostThread::Run(const std::function<void()>& job) {
  if (OnThread()) {
    job();
    return;
  }
  std::mutex done_mu;
  std::condition_variable done_cv;
  bool done = false;
  std::exception_ptr error;
  Post([&] {
    try {
      job();
    } catch (...) {
      error = std::current_exception();
    }
    // Notified under the lock: the waiter may destroy done_cv as soon as it sees done.
    std::lock_guard lock(done_mu);
    done = true;
    done_cv.notify_one();
  });
  std::unique_lock lock(done_mu);
  done_cv.wait(lock, [&] { return done; });
  if (error) std::rethrow_exception(error);
}

void XgboostThread::Loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued has run
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      job();
    } catch (...) {
      // A posted job has no one to tell; the thread goes on with the next.
    }
  }
}

}  // namespace mlcanary::models::internal
