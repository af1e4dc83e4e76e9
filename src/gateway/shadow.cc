// Shadow traffic: the queue, the copied request's call, and the comparison.
#include "gateway/shadow.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <thread>
#include <utility>

#include "gateway/http_errors.h"
#include "metrics/variant_metrics.h"

namespace mlcanary::gateway {
namespace {

using Clock = std::chrono::steady_clock;

// The HTTP status a shadow answer is recorded with (the one a user would have got).
int StatusOf(const core::Result<models::Predictions>& answer) {
  return answer ? 200 : HttpStatusFor(answer.error().code());
}

// CPU time the calling thread has used (Linux: CLOCK_THREAD_CPUTIME_ID).
std::chrono::nanoseconds ThreadCpuTime() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

}  // namespace

PairComparison ComparePredictions(const models::Predictions& production,
                                  const models::Predictions& canary, std::int64_t output,
                                  double tolerance) {
  PairComparison out;
  if (output < 0 && (production.per_row != 1 || canary.per_row != 1)) return out;
  const auto k = static_cast<std::size_t>(output < 0 ? 0 : output);
  if (k >= production.per_row || k >= canary.per_row) return out;
  const std::size_t rows =
      std::min({production.rows, canary.rows, production.values.size() / production.per_row,
                canary.values.size() / canary.per_row});
  for (std::size_t r = 0; r < rows; ++r) {
    const double a = production.values[r * production.per_row + k];
    const double b = canary.values[r * canary.per_row + k];
    ++out.pairs;
    if (std::isnan(a) || std::isnan(b)) {
      if (std::isnan(a) != std::isnan(b)) ++out.disagreements;
      continue;
    }
    const double diff = std::fabs(a - b);
    out.abs_diff_sum += diff;
    if (diff > tolerance) ++out.disagreements;
  }
  return out;
}

// ---- ShadowQueue ----

ShadowQueue::ShadowQueue(ShadowQueueOptions options)
    : options_(options),
      shared_(std::make_shared<Shared>()),
      // Twice the tickets: a push finds its slot free unless a shadow thread
      // stalled mid-pop a whole lap ago.
      ring_(2 * std::max<std::size_t>(1, options.capacity)) {
  const int n = options_.threads > 0 ? options_.threads : 1;
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { Run(); });
}

ShadowQueue::~ShadowQueue() {
  {
    std::lock_guard lock(mu_);
    stopping_.store(true);
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

bool ShadowQueue::TryAcquire() {
  std::size_t n = shared_->in_flight.load(std::memory_order_relaxed);
  do {
    if (n >= options_.capacity) return false;
  } while (!shared_->in_flight.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
  return true;
}

std::function<void()> ShadowQueue::ReleaseFunction() const {
  return [shared = shared_] { shared->in_flight.fetch_sub(1, std::memory_order_relaxed); };
}

std::size_t ShadowQueue::in_flight() const {
  return shared_->in_flight.load(std::memory_order_relaxed);
}

bool ShadowQueue::Post(std::move_only_function<void()> job) {
  if (!ring_.TryPush(job)) return false;
  // A thread that went to sleep after it last found the ring empty must be
  // woken; one that is polling will find the job. The fence pairs with the
  // sleeper's increment: either it sees the job or this sees it asleep.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_relaxed) > 0) {
    { std::lock_guard lock(mu_); }  // not between the sleeper's look and its wait
    cv_.notify_one();
  }
  return true;
}

void ShadowQueue::LowerPriority() const {
  if (options_.idle) {
    sched_param param{};
    param.sched_priority = 0;
    if (::pthread_setschedparam(::pthread_self(), SCHED_IDLE, &param) == 0) return;
  }
  if (options_.nice != 0) {
    // On Linux a thread's niceness is its own: this lowers the shadow thread only.
    const auto tid = static_cast<id_t>(::gettid());
    errno = 0;
    const int now = ::getpriority(PRIO_PROCESS, tid);
    if (errno == 0) (void)::setpriority(PRIO_PROCESS, tid, std::min(now + options_.nice, 19));
  }
}

void ShadowQueue::Run() {
  LowerPriority();
  auto idle_since = Clock::now();
  JobRing::Job job;
  while (!stopping_.load(std::memory_order_acquire)) {
    if (ring_.TryPop(job)) {
      std::exchange(job, nullptr)();
      idle_since = Clock::now();
      continue;
    }
    if (Clock::now() - idle_since < options_.linger) {
      std::this_thread::sleep_for(options_.poll);  // polling: a post need not wake this one
      continue;
    }
    std::unique_lock lock(mu_);
    sleeping_.fetch_add(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with Post's fence
    cv_.wait(lock, [this] { return stopping_.load() || ring_.HasJob(); });
    sleeping_.fetch_sub(1, std::memory_order_relaxed);
    idle_since = Clock::now();
  }
}

// ---- ShadowPair ----

ShadowPair::ShadowPair(std::shared_ptr<const RoutingTable> table, const VariantRoute& called,
                       const VariantRoute& pairs_on, const core::ShadowSpec& spec,
                       const models::FeatureRows& rows, std::function<void()> release)
    : table_(std::move(table)),
      called_(called),
      pairs_on_(pairs_on),
      tolerance_(spec.tolerance),
      output_(spec.output),
      record_(spec.mirror_to.empty()),
      values_(rows.values.begin(), rows.values.end()),
      rows_(rows.rows),
      cols_(rows.cols),
      release_(std::move(release)) {}

ShadowPair::~ShadowPair() {
  if (release_) release_();
}

void ShadowPair::Send(std::shared_ptr<ShadowPair> pair, ShadowQueue& queue,
                      core::Result<models::Predictions> answered) {
  if (answered) pair->answered_ = std::move(*answered);
  ShadowPair& self = *pair;
  const VariantRoute& pairs_on = self.pairs_on_;
  // `pairs_on` lives in the table: kept alive here, since a refused post
  // destroys the job, and with it the pair and maybe the table's last owner,
  // before the drop below is counted.
  std::shared_ptr<const RoutingTable> table = self.table_;
  if (!queue.Post([&self, pair = std::move(pair)]() mutable { self.CallCopy(std::move(pair)); })) {
    if (pairs_on.metrics != nullptr) pairs_on.metrics->RecordShadowDropped();
  }
}

void ShadowPair::CallCopy(std::shared_ptr<ShadowPair> self) {
  // The shadow thread runs at the lowest priority, so a request thread may
  // preempt it mid-call. A model that answers on this thread before
  // PredictAsync returns (in-process) is timed by this thread's CPU time -- its
  // compute, which is what differs between two models -- not by the wall
  // clock, which would count those preemptions against the canary. A call
  // answered on another thread (an http model's loop) is timed by the wall clock.
  const auto start = Clock::now();
  const std::chrono::nanoseconds cpu_start = ThreadCpuTime();
  const std::thread::id caller = std::this_thread::get_id();
  called_.backend->PredictAsync(
      models::FeatureRows{.values = values_, .rows = rows_, .cols = cols_},
      [self = std::move(self), start, cpu_start, caller](core::Result<models::Predictions> answer) {
        const bool here = std::this_thread::get_id() == caller;
        self->Finish(answer, here ? ThreadCpuTime() - cpu_start : Clock::now() - start);
      });
}

void ShadowPair::Finish(const core::Result<models::Predictions>& answer,
                        std::chrono::nanoseconds took) {
  if (record_ && called_.metrics != nullptr) {
    metrics::PredictionOutputs outputs;
    if (answer && answer->per_row > 0) {
      outputs = {.values = answer->values.data(),
                 .rows = std::min(answer->rows, answer->values.size() / answer->per_row),
                 .per_row = answer->per_row};
    }
    // The canary's own time: it has no gateway overhead of its own.
    called_.metrics->Record(StatusOf(answer), took, took, outputs);
  }
  if (pairs_on_.metrics != nullptr && answer && answered_) {
    // |canary - production| is symmetric: either side may be the copy.
    const PairComparison c = ComparePredictions(*answered_, *answer, output_, tolerance_);
    pairs_on_.metrics->RecordPairs(c.pairs, c.disagreements, c.abs_diff_sum);
  }
  if (release_) std::exchange(release_, nullptr)();
}

std::shared_ptr<ShadowPair> TakeShadow(ShadowQueue& queue,
                                       std::shared_ptr<const RoutingTable> table,
                                       const VariantRoute& called, const VariantRoute& pairs_on,
                                       const core::ShadowSpec& spec,
                                       const models::FeatureRows& rows) {
  if (!queue.TryAcquire()) {
    if (pairs_on.metrics != nullptr) pairs_on.metrics->RecordShadowDropped();
    return nullptr;
  }
  return std::make_shared<ShadowPair>(std::move(table), called, pairs_on, spec, rows,
                                      queue.ReleaseFunction());
}

}  // namespace mlcanary::gateway
