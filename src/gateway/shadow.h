// Shadow traffic (issue 14): copies of production's requests answered by a
// canary off the request path -- a bounded queue and its threads, and the pair
// of answers to one request, compared once both are in. Never returned to users.
#ifndef MLCANARY_GATEWAY_SHADOW_H_
#define MLCANARY_GATEWAY_SHADOW_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/ports.h"
#include "gateway/job_ring.h"
#include "gateway/router.h"
#include "models/model_backend.h"

namespace mlcanary::gateway {

// Two answers to one request compared row by row on one output.
struct PairComparison {
  std::int64_t pairs = 0;          // rows compared
  std::int64_t disagreements = 0;  // rows with |canary - production| > the tolerance
  double abs_diff_sum = 0;         // sum of |canary - production| (a NaN side: not added)
};

// Compares the rows both answers have, on output `output` (-1: the only one;
// answers with several outputs per row are then not compared, nor is an output
// a side does not have). A NaN against a number disagrees; two NaNs agree.
PairComparison ComparePredictions(const models::Predictions& production,
                                  const models::Predictions& canary, std::int64_t output,
                                  double tolerance);

struct ShadowQueueOptions {
  // Shadow calls queued or in flight at once; a copy beyond it is dropped
  // (and counted as the canary's mlcanary_shadow_dropped_total).
  std::size_t capacity = 1024;
  int threads = 1;  // threads that start the shadow calls (in-process models run there)
  // The shadow threads' CPU priority (Linux, per thread). idle: SCHED_IDLE, they
  // run only on a core that has nothing else to run, so a copy never takes a
  // core from a request thread, and copies the idle CPU cannot keep up with
  // wait, then are dropped (counted). Otherwise they keep the normal class with
  // their niceness raised by `nice` (0: the same as the request threads). A
  // refusal by the kernel is ignored (the shadow still runs).
  bool idle = true;
  int nice = 10;
  // A shadow thread that finds the queue empty looks again every `poll` for
  // `linger`, then sleeps until a post wakes it: while copies keep coming,
  // posting one makes no system call on the request thread.
  std::chrono::microseconds poll{500};
  std::chrono::milliseconds linger{20};
};

// A bounded queue of shadow calls and the threads that start them. A caller
// takes a ticket (TryAcquire) before it posts a job; the job's completion
// returns it (Release), from whatever thread the canary answers on. Thread-safe;
// posting takes no lock (the hand-off is a JobRing). Jobs still queued when it
// is destroyed are dropped; a ticket released after that is harmless (the count
// is shared with the jobs).
class ShadowQueue {
 public:
  explicit ShadowQueue(ShadowQueueOptions options = {});
  ~ShadowQueue();
  ShadowQueue(const ShadowQueue&) = delete;
  ShadowQueue& operator=(const ShadowQueue&) = delete;

  // A ticket: one call more may be queued or in flight. False at capacity.
  bool TryAcquire();
  // Runs `job` on a shadow thread. REQUIRES: a ticket, which `job` (or the
  // completion it starts) returns with the function from ReleaseFunction().
  // False when the ring has no room (a shadow thread, preempted mid-pop, holds
  // a slot a lap behind): `job` is then destroyed here, not run.
  bool Post(std::move_only_function<void()> job);
  // Returns a ticket; callable after the queue is gone.
  std::function<void()> ReleaseFunction() const;
  std::size_t in_flight() const;

 private:
  struct Shared {
    std::atomic<std::size_t> in_flight{0};
  };
  void Run();
  void LowerPriority() const;

  const ShadowQueueOptions options_;
  std::shared_ptr<Shared> shared_;
  JobRing ring_;
  std::atomic<int> sleeping_{0};  // shadow threads asleep until a post wakes them
  std::atomic<bool> stopping_{false};
  std::mutex mu_;  // only for sleeping and waking
  std::condition_variable cv_;
  std::vector<std::thread> threads_;
};

// One copied request: a copy of its rows and a ticket, taken on the request
// path before the answering variant is called (TakeShadow); once it has
// answered (and its answer is sent), Send posts the call of the copy's
// variant (`called`). In shadow the copy's answer is recorded as the called
// variant's invocation (status, latency, predictions); in split-phase
// mirroring (spec.mirror_to) it is not. Both answers are compared, the pairs
// counted on `pairs_on`'s metrics (the canary's). `table` keeps the variants
// alive. Not thread-safe: one owner, then the queue.
class ShadowPair {
 public:
  ShadowPair(std::shared_ptr<const RoutingTable> table, const VariantRoute& called,
             const VariantRoute& pairs_on, const core::ShadowSpec& spec,
             const models::FeatureRows& rows, std::function<void()> release);
  ~ShadowPair();  // returns the ticket when it was never sent

  // Posts the copy's call on `queue` with the answer users got to compare
  // (an error: the copy is measured in shadow, nothing is compared).
  static void Send(std::shared_ptr<ShadowPair> pair, ShadowQueue& queue,
                   core::Result<models::Predictions> answered);

 private:
  void CallCopy(std::shared_ptr<ShadowPair> self);
  void Finish(const core::Result<models::Predictions>& answer, std::chrono::nanoseconds took);

  std::shared_ptr<const RoutingTable> table_;
  const VariantRoute& called_;
  const VariantRoute& pairs_on_;
  const double tolerance_;
  const std::int64_t output_;
  const bool record_;  // the copy's answer is the called variant's invocation (shadow)
  std::vector<float> values_;
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  std::optional<models::Predictions> answered_;  // null: the answering variant failed
  std::function<void()> release_;                // the ticket; empty once returned
};

// Takes a ticket and copies `rows` for `called` (the canary of `spec`, or in
// split-phase mirroring the variant that did not answer), or, at the queue's
// capacity, counts the copy dropped on `pairs_on`'s metrics (the canary's) and
// returns null.
std::shared_ptr<ShadowPair> TakeShadow(ShadowQueue& queue,
                                       std::shared_ptr<const RoutingTable> table,
                                       const VariantRoute& called, const VariantRoute& pairs_on,
                                       const core::ShadowSpec& spec,
                                       const models::FeatureRows& rows);

}  // namespace mlcanary::gateway

#endif  // MLCANARY_GATEWAY_SHADOW_H_
