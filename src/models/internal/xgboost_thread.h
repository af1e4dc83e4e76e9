// XgboostThread: the one thread on which XgboostBackend makes every XGBoost call
// that is not a prediction (create, load, export, the load-time predictions, free).
//
// Why: XGBoost's C API keeps what a call hands back -- the model exported as JSON,
// a prediction's output, a config string -- in a store per thread and per booster,
// and gives a booster's store back only when XGBoosterFree runs on that same
// thread, or when the thread ends. A booster loaded on one thread (an API worker)
// and freed on another (the controller's, or a gateway I/O thread dropping the last
// routing table) left its store on the loading thread for good: the 18 MB JSON
// export of the DART example model on every deploy. Loading and freeing every
// booster here gives each store back with its booster; it also keeps the models'
// memory in one malloc arena, reused from one model to the next.
#ifndef MLCANARY_MODELS_INTERNAL_XGBOOST_THREAD_H_
#define MLCANARY_MODELS_INTERNAL_XGBOOST_THREAD_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace mlcanary::models::internal {

class XgboostThread {
 public:
  // The process's thread, started on first use (throws std::system_error when it
  // cannot start). Null once it has been stopped at exit: callers then run the
  // work themselves.
  static XgboostThread* Get();

  // Runs `job` there and waits for it (what it throws is rethrown here); runs it
  // at once when called on the thread itself.
  void Run(const std::function<void()>& job);
  // Queues `job` behind everything queued before it and returns; what it throws
  // is dropped.
  void Post(std::function<void()> job);
  // Whether the caller is the thread.
  bool OnThread() const { return std::this_thread::get_id() == thread_.get_id(); }

  XgboostThread(const XgboostThread&) = delete;
  XgboostThread& operator=(const XgboostThread&) = delete;
  // Runs what is queued, then joins the thread.
  ~XgboostThread();

 private:
  XgboostThread();
  void Loop();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::thread thread_;
};

}  // namespace mlcanary::models::internal

#endif  // MLCANARY_MODELS_INTERNAL_XGBOOST_THREAD_H_
