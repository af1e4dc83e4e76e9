#include "gateway/shadow.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <future>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "gateway/invocation_handler.h"
#include "metrics/prometheus.h"
#include "metrics/registry.h"
#include "models/testing/fake_backend.h"

namespace mlcanary::gateway {
namespace {

using models::testing::FakeBackend;
using std::chrono::seconds;

core::Timestamp T0() { return core::Timestamp(std::chrono::milliseconds(1'767'225'600'000)); }

// A model that keeps its callbacks until Release(): a canary that is slow to answer.
class HeldBackend final : public models::ModelBackend {
 public:
  void PredictAsync(const models::FeatureRows& rows, models::PredictCallback done) override {
    std::lock_guard lock(mu_);
    held_.push_back({rows.rows, std::move(done)});
  }
  std::optional<std::size_t> num_features() const override { return std::nullopt; }
  bool ready() const override { return true; }
  const std::string& name() const override { return name_; }

  std::size_t held() {
    std::lock_guard lock(mu_);
    return held_.size();
  }
  void Release(float value) {
    std::vector<std::pair<std::size_t, models::PredictCallback>> held;
    {
      std::lock_guard lock(mu_);
      held.swap(held_);
    }
    for (auto& [rows, done] : held) {
      done(models::Predictions{std::vector<float>(rows, value), rows, 1});
    }
  }

 private:
  const std::string name_ = "held";
  std::mutex mu_;
  std::vector<std::pair<std::size_t, models::PredictCallback>> held_;  // GUARDED_BY(mu_)
};

// Waits for a condition another thread makes true (the shadow thread); false
// when it never does. Not a timing assertion: the bound only ends a hung test.
bool Eventually(const std::function<bool()>& condition) {
  for (int i = 0; i < 10000; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return condition();
}

class ShadowTest : public ::testing::Test {
 protected:
  explicit ShadowTest(ShadowQueueOptions queue = {})
      : clock_(T0()),
        registry_(clock_),
        router_(RouterOptions{}, nullptr, &registry_),
        queue_(std::make_shared<ShadowQueue>(queue)),
        handler_(
            router_, [this] { return bits_; }, queue_) {}

  // recs: production (weight 1) and the canary (weight 0), each with its backend.
  void AddVariants(std::shared_ptr<models::ModelBackend> canary) {
    core::Endpoint endpoint;
    endpoint.name = "recs";
    endpoint.variants = {core::Variant{.name = "production", .weight = 1.0}};
    ASSERT_TRUE(router_.AddEndpointWithBackends(endpoint, {production_}));
    core::Variant c{.name = "canary", .weight = 0};
    ASSERT_TRUE(router_.AddVariantWithBackend("recs", c, std::move(canary)));
  }

  core::Status Shadow(double sample = 1.0) {
    return router_.SetShadow("recs", core::ShadowSpec{.variant = "canary", .sample = sample});
  }

  InferenceResponse Invoke(std::string_view target_variant = {}) {
    InferenceResponse out;
    handler_.Handle({.method = "POST",
                     .target = "/v1/endpoints/recs/invocations",
                     .body = R"({"features": [1, 2, 3]})",
                     .target_variant = target_variant},
                    [&](InferenceResponse r) { out = std::move(r); });
    return out;
  }

  // The canary's window so far (the clock moves past the open interval).
  core::WindowMetrics CanaryWindow() {
    clock_.Advance(seconds(2));
    auto snap = registry_.Snapshot("recs", T0(), clock_.Now());
    EXPECT_TRUE(snap.has_value());
    if (!snap || !snap->contains("canary")) return {};
    return snap->at("canary");
  }

  std::uint64_t Dropped() {
    for (const auto& t : registry_.Totals()) {
      if (t.variant == "canary") return t.shadow_dropped;
    }
    return 0;
  }

  core::ManualClock clock_;
  metrics::MetricsRegistry registry_;
  Router router_;
  std::shared_ptr<ShadowQueue> queue_;
  std::uint64_t bits_ = 0;
  InvocationHandler handler_;
  std::shared_ptr<FakeBackend> production_ = std::make_shared<FakeBackend>("v1", 0.5f);
};

TEST_F(ShadowTest, ProductionAnswersTheUserAndTheCanaryIsMeasuredOnTheCopy) {
  auto canary = std::make_shared<FakeBackend>("v2", 0.9f);
  AddVariants(canary);
  ASSERT_TRUE(Shadow());

  const InferenceResponse r = Invoke();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.variant, "production");
  EXPECT_EQ(r.body, R"({"predictions":[0.5],"variant":"production","model":"v1"})");
  ASSERT_TRUE(Eventually([&] { return canary->calls() == 1 && queue_->in_flight() == 0; }));
  EXPECT_EQ(production_->calls(), 1);

  const core::WindowMetrics w = CanaryWindow();
  EXPECT_EQ(w.invocations, 1);
  EXPECT_EQ(w.predictions, 1);
  EXPECT_EQ(w.pairs, 1);
  EXPECT_EQ(w.pair_disagreements, 1);  // |0.9 - 0.5| > 0.01
  EXPECT_NEAR(w.pair_abs_diff_sum, 0.4, 1e-6);
}

// A model that waits 100 ms (using no CPU) before it answers: on the calling
// thread (as an in-process model does), or from a thread of its own (as an
// http model's loop does).
class WaitingBackend final : public models::ModelBackend {
 public:
  explicit WaitingBackend(bool on_caller) : on_caller_(on_caller) {}
  ~WaitingBackend() override {
    for (auto& t : threads_) t.join();
  }
  void PredictAsync(const models::FeatureRows& rows, models::PredictCallback done) override {
    auto answer = [rows = rows.rows, done = std::move(done)]() mutable {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      done(models::Predictions{std::vector<float>(rows, 0.5f), rows, 1});
    };
    if (on_caller_) return answer();
    std::lock_guard lock(mu_);
    threads_.emplace_back(std::move(answer));
  }
  std::optional<std::size_t> num_features() const override { return std::nullopt; }
  bool ready() const override { return true; }
  const std::string& name() const override { return name_; }

 private:
  const bool on_caller_;
  const std::string name_ = "waiting";
  std::mutex mu_;
  std::vector<std::thread> threads_;  // GUARDED_BY(mu_)
};

// The shadow thread may be preempted at any time (it runs at the lowest
// priority): a model answering on it is timed by its CPU time, not the wall
// clock, while one answering elsewhere is timed by the wall clock.
class ShadowTimingTest : public ShadowTest {
 protected:
  // One request shadowed to a WaitingBackend; the canary's window after it.
  core::WindowMetrics ShadowOneRequest(bool on_caller) {
    AddVariants(std::make_shared<WaitingBackend>(on_caller));
    EXPECT_TRUE(Shadow());
    EXPECT_EQ(Invoke().variant, "production");
    EXPECT_TRUE(Eventually([&] { return queue_->in_flight() == 0; }));
    const core::WindowMetrics w = CanaryWindow();
    EXPECT_EQ(w.invocations, 1);
    return w;
  }
};

TEST_F(ShadowTimingTest, AnInProcessCanaryIsTimedByTheCpuItUsed) {
  EXPECT_LT(ShadowOneRequest(/*on_caller=*/true).p50_ms, 50)
      << "the 100 ms wait, which took no CPU, was counted";
}

TEST_F(ShadowTimingTest, ACanaryAnsweringOnAnotherThreadIsTimedByTheWallClock) {
  EXPECT_GE(ShadowOneRequest(/*on_caller=*/false).p50_ms, 50)
      << "the wall-clock time was not counted";
}

TEST_F(ShadowTest, WithoutAShadowTheCanaryAtWeightZeroIsNeverCalled) {
  auto canary = std::make_shared<FakeBackend>("v2", 0.9f);
  AddVariants(canary);
  ASSERT_TRUE(Shadow());
  ASSERT_TRUE(router_.SetShadow("recs", std::nullopt));
  EXPECT_EQ(Invoke().variant, "production");
  EXPECT_EQ(queue_->in_flight(), 0u);
  EXPECT_EQ(CanaryWindow().invocations, 0);
  EXPECT_EQ(canary->calls(), 0);
}

TEST_F(ShadowTest, OnlyTheSampledShareIsCopied) {
  auto canary = std::make_shared<FakeBackend>("v2", 0.5f);
  AddVariants(canary);
  ASSERT_TRUE(Shadow(0.5));
  bits_ = std::numeric_limits<std::uint64_t>::max();  // the point 0.99..: not sampled
  Invoke();
  bits_ = 0;  // the point 0: sampled
  Invoke();
  ASSERT_TRUE(Eventually([&] { return canary->calls() == 1 && queue_->in_flight() == 0; }));
  const core::WindowMetrics w = CanaryWindow();
  EXPECT_EQ(w.pairs, 1);
  EXPECT_EQ(w.pair_disagreements, 0);
  EXPECT_EQ(canary->calls(), 1);
}

TEST_F(ShadowTest, ARequestTheCanaryAnswersItselfIsNotCopied) {
  auto canary = std::make_shared<FakeBackend>("v2", 0.9f);
  AddVariants(canary);
  ASSERT_TRUE(Shadow());
  EXPECT_EQ(Invoke("canary").variant, "canary");
  EXPECT_EQ(queue_->in_flight(), 0u);
  EXPECT_EQ(canary->calls(), 1);
  EXPECT_EQ(CanaryWindow().pairs, 0);
}

TEST_F(ShadowTest, CanaryErrorsAreTheCanarysAndNeverReachTheUser) {
  auto canary = std::make_shared<FakeBackend>("v2", 0.9f);
  canary->set_error(core::Error(core::ErrorCode::kModelError, "boom"));
  AddVariants(canary);
  ASSERT_TRUE(Shadow());
  const InferenceResponse r = Invoke();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"predictions":[0.5],"variant":"production","model":"v1"})");
  ASSERT_TRUE(Eventually([&] { return canary->calls() == 1 && queue_->in_flight() == 0; }));
  const core::WindowMetrics w = CanaryWindow();
  EXPECT_EQ(w.invocations, 1);
  EXPECT_EQ(w.errors_5xx, 1);
  EXPECT_EQ(w.pairs, 0);
}

class SmallShadowQueueTest : public ShadowTest {
 protected:
  SmallShadowQueueTest() : ShadowTest(ShadowQueueOptions{.capacity = 1, .threads = 1}) {}
};

TEST_F(SmallShadowQueueTest, AFullQueueDropsTheCopyCountsItAndStillAnswersTheUser) {
  auto canary = std::make_shared<HeldBackend>();
  AddVariants(canary);
  ASSERT_TRUE(Shadow());
  EXPECT_EQ(Invoke().status, 200);  // takes the only ticket, held by the canary
  ASSERT_TRUE(Eventually([&] { return canary->held() == 1; }));
  EXPECT_EQ(Invoke().status, 200);  // dropped
  EXPECT_EQ(Invoke().status, 200);  // dropped
  EXPECT_EQ(Dropped(), 2u);
  std::string exposition;
  metrics::AppendRegistryMetrics(registry_, exposition);
  EXPECT_NE(exposition.find(R"(mlcanary_shadow_dropped_total{endpoint="recs",variant="canary"} 2)"),
            std::string::npos)
      << exposition;

  canary->Release(0.5f);  // the ticket comes back
  EXPECT_EQ(queue_->in_flight(), 0u);
  EXPECT_EQ(Invoke().status, 200);
  ASSERT_TRUE(Eventually([&] { return canary->held() == 1; }));
  canary->Release(0.5f);
  EXPECT_EQ(Dropped(), 2u);
  EXPECT_EQ(CanaryWindow().pairs, 2);
}

TEST_F(ShadowTest, SetShadowRefusesAnUnknownVariantAndABadSample) {
  AddVariants(std::make_shared<FakeBackend>("v2", 0.9f));
  auto unknown = router_.SetShadow("recs", core::ShadowSpec{.variant = "nope"});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), core::ErrorCode::kNotFound);
  auto zero = Shadow(0);
  ASSERT_FALSE(zero);
  EXPECT_NE(zero.error().message().find("shadow.sample"), std::string::npos);
  EXPECT_FALSE(router_.SetShadow("other", std::nullopt));
}

TEST_F(ShadowTest, RemovingTheShadowedVariantStopsTheShadow) {
  AddVariants(std::make_shared<FakeBackend>("v2", 0.9f));
  ASSERT_TRUE(Shadow());
  EXPECT_TRUE(router_.table()->any_shadow);
  ASSERT_TRUE(router_.RemoveVariant("recs", "canary"));
  EXPECT_FALSE(router_.table()->any_shadow);
  EXPECT_EQ(Invoke().status, 200);
}

// Split-phase mirroring (policy divergence_mirror_sample).
core::ShadowSpec Mirror(double sample = 1.0) {
  return core::ShadowSpec{.variant = "canary", .sample = sample, .mirror_to = "production"};
}

core::WindowMetrics WindowOf(metrics::MetricsRegistry& registry, core::ManualClock& clock,
                             const std::string& variant) {
  auto snap = registry.Snapshot("recs", T0(), clock.Now());
  EXPECT_TRUE(snap.has_value());
  if (!snap || !snap->contains(variant)) return {};
  return snap->at(variant);
}

TEST_F(ShadowTest, MirroringCopiesEachVariantsRequestsToTheOtherAndCountsOnlyThePairs) {
  auto canary = std::make_shared<FakeBackend>("v2", 0.9f);
  AddVariants(canary);
  ASSERT_TRUE(router_.SetShadow("recs", Mirror()));
  // Production answers the user; a copy goes to the canary.
  const InferenceResponse by_production = Invoke();
  EXPECT_EQ(by_production.variant, "production");
  EXPECT_EQ(by_production.body, R"({"predictions":[0.5],"variant":"production","model":"v1"})");
  // The canary answers the user; a copy goes to production.
  const InferenceResponse by_canary = Invoke("canary");
  EXPECT_EQ(by_canary.variant, "canary");
  EXPECT_EQ(by_canary.body, R"({"predictions":[0.9],"variant":"canary","model":"v2"})");
  ASSERT_TRUE(Eventually([&] {
    return canary->calls() == 2 && production_->calls() == 2 && queue_->in_flight() == 0;
  }));
  clock_.Advance(seconds(2));
  const core::WindowMetrics c = WindowOf(registry_, clock_, "canary");
  const core::WindowMetrics p = WindowOf(registry_, clock_, "production");
  // Both copies are pairs on the canary's window; neither is an invocation.
  EXPECT_EQ(c.pairs, 2);
  EXPECT_EQ(c.pair_disagreements, 2);
  EXPECT_NEAR(c.pair_abs_diff_sum, 0.8, 1e-6);
  EXPECT_EQ(c.invocations, 1);
  EXPECT_EQ(p.invocations, 1);
  EXPECT_EQ(p.pairs, 0);
}

TEST_F(ShadowTest, MirroringSamplesEachVariantsShare) {
  auto canary = std::make_shared<FakeBackend>("v2", 0.5f);
  AddVariants(canary);
  ASSERT_TRUE(router_.SetShadow("recs", Mirror(0.25)));
  bits_ = std::numeric_limits<std::uint64_t>::max();  // not sampled
  Invoke();
  Invoke("canary");
  EXPECT_EQ(queue_->in_flight(), 0u);
  EXPECT_EQ(canary->calls(), 1);
  EXPECT_EQ(production_->calls(), 1);
  bits_ = 0;  // sampled
  Invoke("canary");
  ASSERT_TRUE(Eventually([&] { return production_->calls() == 2 && queue_->in_flight() == 0; }));
  EXPECT_EQ(CanaryWindow().pairs, 1);
}

TEST_F(ShadowTest, SetShadowRefusesAMirrorOfAnUnknownOrTheSameVariant) {
  AddVariants(std::make_shared<FakeBackend>("v2", 0.9f));
  core::ShadowSpec unknown = Mirror();
  unknown.mirror_to = "nope";
  EXPECT_FALSE(router_.SetShadow("recs", unknown));
  core::ShadowSpec same = Mirror();
  same.mirror_to = "canary";
  EXPECT_FALSE(router_.SetShadow("recs", same));
  EXPECT_FALSE(router_.DescribeShadow("recs"));
  ASSERT_TRUE(router_.SetShadow("recs", Mirror()));
  EXPECT_EQ(router_.DescribeShadow("recs"), Mirror());
}

TEST_F(SmallShadowQueueTest, AFullQueueDropsAMirroredCopyAndCountsItOnTheCanary) {
  auto canary = std::make_shared<HeldBackend>();
  AddVariants(canary);
  ASSERT_TRUE(router_.SetShadow("recs", Mirror()));
  EXPECT_EQ(Invoke().status, 200);  // the copy to the canary holds the only ticket
  ASSERT_TRUE(Eventually([&] { return canary->held() == 1; }));
  EXPECT_EQ(Invoke().status, 200);  // dropped
  EXPECT_EQ(Dropped(), 1u);
  canary->Release(0.5f);
  EXPECT_EQ(queue_->in_flight(), 0u);
  EXPECT_EQ(CanaryWindow().pairs, 1);
}

models::Predictions Rows(std::vector<float> values, std::size_t per_row = 1) {
  const std::size_t rows = values.size() / per_row;
  return models::Predictions{std::move(values), rows, per_row};
}

// The shadow threads yield the CPU to the request threads: SCHED_IDLE by
// default; otherwise the caller's niceness plus ShadowQueueOptions::nice (at
// most 19), and unchanged with 0.
int ThreadNiceness() { return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid())); }

struct Priority {
  int policy = -1;
  int niceness = 0;
};

Priority ShadowThreadPriority(ShadowQueueOptions options) {
  ShadowQueue queue(options);
  std::promise<Priority> seen;
  EXPECT_TRUE(queue.TryAcquire());
  EXPECT_TRUE(queue.Post([&, release = queue.ReleaseFunction()] {
    seen.set_value({.policy = ::sched_getscheduler(0), .niceness = ThreadNiceness()});
    release();
  }));
  return seen.get_future().get();
}

TEST(ShadowQueueTest, ShadowThreadsRunOnlyOnIdleCpuByDefault) {
  const int mine = ::sched_getscheduler(0);
  EXPECT_EQ(ShadowThreadPriority({.capacity = 4, .threads = 1}).policy, SCHED_IDLE);
  EXPECT_EQ(::sched_getscheduler(0), mine);  // the caller's own is untouched
}

TEST(ShadowQueueTest, WithoutTheIdleClassTheyRunAtALowerNiceness) {
  const int mine = ThreadNiceness();
  const Priority nice10 = ShadowThreadPriority({.capacity = 4, .threads = 1, .idle = false});
  EXPECT_EQ(nice10.policy, SCHED_OTHER);
  EXPECT_EQ(nice10.niceness, std::min(mine + 10, 19));
  EXPECT_EQ(ShadowThreadPriority({.capacity = 4, .threads = 1, .idle = false, .nice = 0}).niceness,
            mine);
  EXPECT_EQ(ThreadNiceness(), mine);
}

// A post reaches a shadow thread that is polling (no wake-up) and one that has
// gone to sleep (woken), with several threads and posters at once.
TEST(ShadowQueueTest, EveryPostedJobRunsOnceWhetherTheThreadsPollOrSleep) {
  ShadowQueue queue({.capacity = 64,
                     .threads = 3,
                     .poll = std::chrono::microseconds(100),
                     .linger = std::chrono::milliseconds(1)});
  std::atomic<int> ran{0};
  auto post = [&] {
    while (!queue.TryAcquire()) std::this_thread::yield();
    EXPECT_TRUE(queue.Post([&, release = queue.ReleaseFunction()] {
      ran.fetch_add(1);
      release();
    }));
  };
  int expected = 0;
  for (int round = 0; round < 3; ++round) {
    std::vector<std::thread> posters;
    for (int t = 0; t < 4; ++t) {
      posters.emplace_back([&] {
        for (int i = 0; i < 500; ++i) post();
      });
    }
    for (auto& t : posters) t.join();
    expected += 2000;
    ASSERT_TRUE(Eventually([&] { return ran.load() == expected; })) << ran.load();
    // Long past the linger: every shadow thread is asleep, and one post wakes one.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    post();
    expected += 1;
    ASSERT_TRUE(Eventually([&] { return ran.load() == expected; })) << ran.load();
  }
  EXPECT_TRUE(Eventually([&] { return queue.in_flight() == 0; }));
}

TEST(ComparePredictionsTest, CountsRowsBeyondTheToleranceAndSumsTheDifferences) {
  const PairComparison c =
      ComparePredictions(Rows({0.5f, 0.5f, 0.5f}), Rows({0.5f, 0.505f, 0.7f}), -1, 0.01);
  EXPECT_EQ(c.pairs, 3);
  EXPECT_EQ(c.disagreements, 1);
  EXPECT_NEAR(c.abs_diff_sum, 0.205, 1e-6);
}

TEST(ComparePredictionsTest, SeveralOutputsAreComparedOnlyOnTheNamedOne) {
  const auto production = Rows({0.1f, 0.9f, 0.2f, 0.8f}, 2);
  const auto canary = Rows({0.9f, 0.1f, 0.2f, 0.8f}, 2);
  EXPECT_EQ(ComparePredictions(production, canary, -1, 0.01).pairs, 0);  // which one?
  const PairComparison c = ComparePredictions(production, canary, 1, 0.01);
  EXPECT_EQ(c.pairs, 2);
  EXPECT_EQ(c.disagreements, 1);
  EXPECT_EQ(ComparePredictions(production, canary, 2, 0.01).pairs, 0);  // no such output
}

TEST(ComparePredictionsTest, ANanAgainstANumberDisagreesTwoNansAgree) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const PairComparison c = ComparePredictions(Rows({nan, nan}), Rows({nan, 0.5f}), -1, 0.01);
  EXPECT_EQ(c.pairs, 2);
  EXPECT_EQ(c.disagreements, 1);
  EXPECT_EQ(c.abs_diff_sum, 0);
}

}  // namespace
}  // namespace mlcanary::gateway
