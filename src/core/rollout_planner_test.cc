// Tests of the rollout planner: bake time, step schedule, final bake,
// consecutive-breach counts, auto-rollback, and failed checks. Time is virtual:
// every check is given its `now`.
#include "core/rollout_planner.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace mlcanary::core {

// Readable failure messages (found by argument-dependent lookup).
static void PrintTo(Action action, std::ostream* os) { *os << ActionName(action); }
static void PrintTo(DeploymentState state, std::ostream* os) { *os << StateName(state); }

namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;

// The moment the deployment's first weight was applied.
Timestamp T0() {
  using namespace std::chrono;
  return Timestamp(sys_days(year(2026) / November / 28)) + hours(12);
}

Timestamp At(int minute) { return T0() + minutes(minute); }

// Minutes since T0(), so that failures print readable numbers.
double Minute(Timestamp t) { return ToMinutes(t - T0()); }
std::optional<double> Minute(std::optional<Timestamp> t) {
  if (!t) return std::nullopt;
  return Minute(*t);
}

WindowMetrics Window(std::int64_t invocations, std::int64_t errors, double p99_ms) {
  WindowMetrics w;
  w.invocations = invocations;
  w.errors_5xx = errors;
  w.p99_ms = p99_ms;
  return w;
}

HealthReport Report(const WindowMetrics& canary, Verdict expected) {
  HealthReport r = EvaluateHealth(canary, Window(1000, 0, 40), Policy{});
  EXPECT_EQ(r.verdict, expected) << "test fixture: " << r.reason;
  return r;
}

HealthReport Healthy() { return Report(Window(1000, 0, 45), Verdict::kHealthy); }
HealthReport LatencyBreach() { return Report(Window(1000, 0, 150), Verdict::kLatencyBreached); }
HealthReport ErrorBreach() { return Report(Window(1000, 50, 45), Verdict::kErrorBreached); }
HealthReport BothBreach() {
  return Report(Window(1000, 50, 150), Verdict::kLatencyAndErrorBreached);
}
HealthReport Inconclusive() { return Report(Window(10, 10, 500), Verdict::kInconclusive); }

// An IN_PROGRESS deployment whose first weight was set at T0().
Deployment Started(const Policy& policy = Policy{}) {
  Deployment d;
  d.id = "dep-1";
  d.endpoint = "recs";
  d.production_variant = "production";
  d.canary_variant = "canary-v2";
  d.state = DeploymentState::kInProgress;
  d.policy = policy;
  d.canary_weight = InitialWeight(policy);
  d.progress = StartWeight(RolloutProgress{}, T0());
  return d;
}

// Does what the controller does with a decision (as far as the record goes).
void Apply(Deployment& d, const Decision& decision) {
  d.progress = decision.progress;
  switch (decision.action) {
    case Action::kHold:
      break;
    case Action::kShift:
      d.canary_weight = decision.target_weight;
      break;
    case Action::kComplete:
      d.canary_weight = 1.0;
      d.state = DeploymentState::kCompleted;
      break;
    case Action::kRollback:
      d.canary_weight = 0;
      d.state = DeploymentState::kRollingBack;
      break;
    case Action::kPause:
      d.paused = true;
      break;
    case Action::kFail:
      d.canary_weight = 0;
      d.state = DeploymentState::kFailed;
      break;
  }
}

// Plans one check at `now` and applies it.
Decision Check(Deployment& d, const HealthReport& report, Timestamp now) {
  Decision decision = PlanCheck(d, report, now);
  Apply(d, decision);
  return decision;
}

Decision CheckError(Deployment& d, const Error& error, Timestamp now) {
  Decision decision = PlanCheckError(d, error, now);
  Apply(d, decision);
  return decision;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Runs healthy checks every minute from minute 1 until the deployment leaves
// IN_PROGRESS (or `max_minutes`), and returns each weight change as
// (minute, weight).
std::vector<std::pair<int, double>> RunHealthy(Deployment& d, int max_minutes = 1000) {
  std::vector<std::pair<int, double>> changes;
  for (int m = 1; m <= max_minutes && d.state == DeploymentState::kInProgress; ++m) {
    const double before = d.canary_weight;
    Check(d, Healthy(), At(m));
    if (d.canary_weight != before) changes.emplace_back(m, d.canary_weight);
  }
  return changes;
}

// ---- Bake and shift ----

TEST(RolloutPlannerTest, HealthyChecksHoldUntilTheBakeIsOver) {
  Deployment d = Started();
  for (int m = 1; m < 10; ++m) {
    SCOPED_TRACE(m);
    const Decision decision = Check(d, Healthy(), At(m));
    EXPECT_EQ(decision.action, Action::kHold);
    EXPECT_DOUBLE_EQ(decision.target_weight, 0.10);
    EXPECT_TRUE(Contains(decision.reason, "baking")) << decision.reason;
  }
}

TEST(RolloutPlannerTest, HealthyForExactlyTheBakeShiftsToTheNextWeight) {
  Deployment d = Started();
  const Decision decision = PlanCheck(d, Healthy(), At(10));
  EXPECT_EQ(decision.action, Action::kShift);
  EXPECT_DOUBLE_EQ(decision.target_weight, 0.20);
  EXPECT_TRUE(Contains(decision.reason, "shift to 20%")) << decision.reason;
}

TEST(RolloutPlannerTest, OneMillisecondShortOfTheBakeHolds) {
  Deployment d = Started();
  const Decision decision = PlanCheck(d, Healthy(), At(10) - milliseconds(1));
  EXPECT_EQ(decision.action, Action::kHold);
  EXPECT_DOUBLE_EQ(decision.target_weight, 0.10);
}

TEST(RolloutPlannerTest, HoldReasonShowsBakeProgressAndWeight) {
  Deployment d = Started();
  const Decision decision = PlanCheck(d, Healthy(), At(4));
  EXPECT_TRUE(Contains(decision.reason, "4m/10m")) << decision.reason;
  EXPECT_TRUE(Contains(decision.reason, "10%")) << decision.reason;
}

TEST(RolloutPlannerTest, ShiftStartsANewBakeAtTheNewWeight) {
  Deployment d = Started();
  const Decision decision = PlanCheck(d, Healthy(), At(10));
  ASSERT_EQ(decision.action, Action::kShift);
  EXPECT_EQ(Minute(decision.progress.weight_since), 10);
  EXPECT_EQ(Minute(decision.progress.healthy_since), 10);
  EXPECT_EQ(decision.progress.latency_breaches, 0);
  EXPECT_EQ(decision.progress.error_breaches, 0);
}

TEST(RolloutPlannerTest, NextShiftComesOneBakeAfterThePrevious) {
  Deployment d = Started();
  const auto changes = RunHealthy(d, 20);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].first, 10);
  EXPECT_EQ(changes[1].first, 20);
  EXPECT_DOUBLE_EQ(changes[1].second, 0.30);
}

TEST(RolloutPlannerTest, ZeroBakeShiftsOnEveryHealthyCheck) {
  Policy p;
  p.bake = milliseconds(0);
  Deployment d = Started(p);
  EXPECT_EQ(Check(d, Healthy(), At(1)).action, Action::kShift);
  EXPECT_EQ(Check(d, Healthy(), At(2)).action, Action::kShift);
  EXPECT_DOUBLE_EQ(d.canary_weight, 0.30);
}

TEST(RolloutPlannerTest, DefaultPolicyWalksTenPercentStepsAndCompletesAtMinuteNinety) {
  Deployment d = Started();
  const auto changes = RunHealthy(d);
  ASSERT_EQ(changes.size(), 9u);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(changes[i].first, 10 * (i + 1));
    EXPECT_EQ(changes[i].second, RoundWeight((i + 2) / 10.0)) << "shift " << i;
  }
  EXPECT_EQ(changes[8].first, 90);
  EXPECT_EQ(changes[8].second, 1.0);
  EXPECT_EQ(d.state, DeploymentState::kCompleted);
}

TEST(RolloutPlannerTest, HoldKeepsTheCurrentWeightAsTarget) {
  Deployment d = Started();
  d.canary_weight = 0.4;
  const Decision decision = PlanCheck(d, Healthy(), At(1));
  EXPECT_EQ(decision.action, Action::kHold);
  EXPECT_DOUBLE_EQ(decision.target_weight, 0.4);
}

// ---- Breaches and the bake ----

TEST(RolloutPlannerTest, BreachRestartsTheBake) {
  Deployment d = Started();
  for (int m = 1; m <= 5; ++m) Check(d, Healthy(), At(m));
  const Decision breached = Check(d, LatencyBreach(), At(6));
  EXPECT_EQ(breached.action, Action::kHold);
  EXPECT_EQ(Minute(breached.progress.healthy_since), 6);
  EXPECT_TRUE(Contains(breached.reason, "bake restarts")) << breached.reason;
  // Minute 10 would have ended the first bake; now it takes until minute 16.
  for (int m = 7; m < 16; ++m) {
    SCOPED_TRACE(m);
    EXPECT_EQ(Check(d, Healthy(), At(m)).action, Action::kHold);
  }
  const Decision shift = Check(d, Healthy(), At(16));
  EXPECT_EQ(shift.action, Action::kShift);
  EXPECT_DOUBLE_EQ(shift.target_weight, 0.20);
}

TEST(RolloutPlannerTest, ErrorBreachRestartsTheBake) {
  Deployment d = Started();
  for (int m = 1; m <= 9; ++m) Check(d, Healthy(), At(m));
  EXPECT_EQ(Check(d, ErrorBreach(), At(10)).action, Action::kHold);
  EXPECT_EQ(Check(d, Healthy(), At(11)).action, Action::kHold);
  EXPECT_EQ(Check(d, Healthy(), At(20)).action, Action::kShift);
}

TEST(RolloutPlannerTest, BreachReasonCountsTowardsTheLimit) {
  Deployment d = Started();
  const Decision first = Check(d, LatencyBreach(), At(1));
  EXPECT_TRUE(Contains(first.reason, "latency breach 1/3")) << first.reason;
  const Decision error = Check(d, ErrorBreach(), At(2));
  EXPECT_TRUE(Contains(error.reason, "error breach 1/2")) << error.reason;
}

// ---- Inconclusive ----

TEST(RolloutPlannerTest, InconclusiveRestartsTheBake) {
  Deployment d = Started();
  for (int m = 1; m <= 9; ++m) Check(d, Healthy(), At(m));
  const Decision inconclusive = Check(d, Inconclusive(), At(10));
  EXPECT_EQ(inconclusive.action, Action::kHold);
  EXPECT_DOUBLE_EQ(inconclusive.target_weight, 0.10);
  EXPECT_EQ(Minute(inconclusive.progress.healthy_since), 10);
  EXPECT_TRUE(Contains(inconclusive.reason, "bake restarts")) << inconclusive.reason;
  EXPECT_EQ(Check(d, Healthy(), At(19)).action, Action::kHold);
  EXPECT_EQ(Check(d, Healthy(), At(20)).action, Action::kShift);
}

TEST(RolloutPlannerTest, InconclusiveLeavesBreachCountersUnchanged) {
  Deployment d = Started();
  d.progress.latency_breaches = 2;
  d.progress.error_breaches = 1;
  const Decision decision = PlanCheck(d, Inconclusive(), At(1));
  EXPECT_EQ(decision.action, Action::kHold);
  EXPECT_EQ(decision.progress.latency_breaches, 2);
  EXPECT_EQ(decision.progress.error_breaches, 1);
}

TEST(RolloutPlannerTest, InconclusiveDoesNotBreakARunOfLatencyBreaches) {
  Deployment d = Started();
  Check(d, LatencyBreach(), At(1));
  Check(d, LatencyBreach(), At(2));
  Check(d, Inconclusive(), At(3));
  const Decision third = Check(d, LatencyBreach(), At(4));
  EXPECT_EQ(third.action, Action::kRollback);
}

TEST(RolloutPlannerTest, InconclusiveNeverRollsBackOrShifts) {
  Deployment d = Started();
  for (int m = 1; m <= 30; ++m) {
    SCOPED_TRACE(m);
    EXPECT_EQ(Check(d, Inconclusive(), At(m)).action, Action::kHold);
  }
  EXPECT_DOUBLE_EQ(d.canary_weight, 0.10);
}

// ---- Consecutive breaches ----

TEST(RolloutPlannerTest, ThirdConsecutiveLatencyBreachRollsBack) {
  Deployment d = Started();
  const Decision first = Check(d, LatencyBreach(), At(1));
  EXPECT_EQ(first.action, Action::kHold);
  EXPECT_EQ(first.progress.latency_breaches, 1);
  const Decision second = Check(d, LatencyBreach(), At(2));
  EXPECT_EQ(second.action, Action::kHold);
  EXPECT_EQ(second.progress.latency_breaches, 2);
  const Decision third = Check(d, LatencyBreach(), At(3));
  EXPECT_EQ(third.action, Action::kRollback);
  EXPECT_EQ(third.target_weight, 0.0);
  EXPECT_EQ(third.progress.latency_breaches, 3);
}

TEST(RolloutPlannerTest, LatencyRollbackReasonSaysWhy) {
  Deployment d = Started();
  Check(d, LatencyBreach(), At(1));
  Check(d, LatencyBreach(), At(2));
  const Decision third = Check(d, LatencyBreach(), At(3));
  ASSERT_EQ(third.action, Action::kRollback);
  EXPECT_TRUE(Contains(third.reason, "rollback")) << third.reason;
  EXPECT_TRUE(Contains(third.reason, "latency breached on 3 consecutive checks")) << third.reason;
  EXPECT_TRUE(Contains(third.reason, "max_p99_ms")) << third.reason;  // the check's reason
}

TEST(RolloutPlannerTest, SecondConsecutiveErrorBreachRollsBack) {
  Deployment d = Started();
  const Decision first = Check(d, ErrorBreach(), At(1));
  EXPECT_EQ(first.action, Action::kHold);
  EXPECT_EQ(first.progress.error_breaches, 1);
  const Decision second = Check(d, ErrorBreach(), At(2));
  EXPECT_EQ(second.action, Action::kRollback);
  EXPECT_EQ(second.target_weight, 0.0);
  EXPECT_TRUE(Contains(second.reason, "error rate breached on 2 consecutive checks"))
      << second.reason;
}

// A report whose only breach is prediction divergence (issue 14).
HealthReport DivergenceBreach() {
  HealthReport r = Healthy();
  r.verdict = Verdict::kDivergenceBreached;
  r.divergence_breached = true;
  r.psi = 1.5;
  r.reason = "prediction PSI 1.500 >= divergence_psi_max 0.2";
  return r;
}

TEST(RolloutPlannerTest, DivergenceBreachesCountToTheirOwnLimit) {
  Policy policy;
  policy.divergence_psi_max = 0.2;
  policy.divergence_breaches_to_rollback = 3;
  Deployment d = Started(policy);
  const Decision first = Check(d, DivergenceBreach(), At(1));
  EXPECT_EQ(first.action, Action::kHold);
  EXPECT_EQ(first.progress.divergence_breaches, 1);
  EXPECT_EQ(first.progress.latency_breaches, 0);
  EXPECT_TRUE(Contains(first.reason, "divergence breach 1/3")) << first.reason;
  // A healthy check in between resets the run.
  Check(d, Healthy(), At(2));
  EXPECT_EQ(d.progress.divergence_breaches, 0);
  Check(d, DivergenceBreach(), At(3));
  Check(d, DivergenceBreach(), At(4));
  const Decision third = Check(d, DivergenceBreach(), At(5));
  EXPECT_EQ(third.action, Action::kRollback);
  EXPECT_EQ(third.target_weight, 0.0);
  EXPECT_TRUE(Contains(third.reason, "prediction divergence breached on 3 consecutive checks"))
      << third.reason;
  EXPECT_TRUE(Contains(third.reason, "PSI 1.500")) << third.reason;
}

TEST(RolloutPlannerTest, DivergenceRollbackPausesWithoutAutoRollback) {
  Policy policy;
  policy.divergence_psi_max = 0.2;
  policy.divergence_breaches_to_rollback = 1;
  policy.auto_rollback = false;
  Deployment d = Started(policy);
  EXPECT_EQ(Check(d, DivergenceBreach(), At(1)).action, Action::kPause);
}

TEST(RolloutPlannerTest, HealthyCheckBetweenLatencyBreachesResetsTheCount) {
  Deployment d = Started();
  Check(d, LatencyBreach(), At(1));
  Check(d, LatencyBreach(), At(2));
  const Decision healthy = Check(d, Healthy(), At(3));
  EXPECT_EQ(healthy.progress.latency_breaches, 0);
  EXPECT_EQ(Check(d, LatencyBreach(), At(4)).action, Action::kHold);
  const Decision again = Check(d, LatencyBreach(), At(5));
  EXPECT_EQ(again.action, Action::kHold);
  EXPECT_EQ(again.progress.latency_breaches, 2);
}

TEST(RolloutPlannerTest, HealthyCheckBetweenErrorBreachesResetsTheCount) {
  Deployment d = Started();
  Check(d, ErrorBreach(), At(1));
  const Decision healthy = Check(d, Healthy(), At(2));
  EXPECT_EQ(healthy.progress.error_breaches, 0);
  const Decision again = Check(d, ErrorBreach(), At(3));
  EXPECT_EQ(again.action, Action::kHold);
  EXPECT_EQ(again.progress.error_breaches, 1);
}

TEST(RolloutPlannerTest, LatencyBreachResetsTheErrorCounter) {
  Deployment d = Started();
  Check(d, ErrorBreach(), At(1));
  const Decision latency = Check(d, LatencyBreach(), At(2));
  EXPECT_EQ(latency.action, Action::kHold);
  EXPECT_EQ(latency.progress.error_breaches, 0);
  EXPECT_EQ(latency.progress.latency_breaches, 1);
  const Decision error = Check(d, ErrorBreach(), At(3));
  EXPECT_EQ(error.action, Action::kHold);  // 1/2, not 2/2
  EXPECT_EQ(error.progress.error_breaches, 1);
}

TEST(RolloutPlannerTest, ErrorBreachResetsTheLatencyCounter) {
  Deployment d = Started();
  Check(d, LatencyBreach(), At(1));
  Check(d, LatencyBreach(), At(2));
  const Decision error = Check(d, ErrorBreach(), At(3));
  EXPECT_EQ(error.action, Action::kHold);
  EXPECT_EQ(error.progress.latency_breaches, 0);
  const Decision latency = Check(d, LatencyBreach(), At(4));
  EXPECT_EQ(latency.action, Action::kHold);  // 1/3, not 3/3
  EXPECT_EQ(latency.progress.latency_breaches, 1);
}

TEST(RolloutPlannerTest, BothBreachedCountsTowardsBothLimits) {
  Deployment d = Started();
  const Decision first = Check(d, BothBreach(), At(1));
  EXPECT_EQ(first.action, Action::kHold);
  EXPECT_EQ(first.progress.latency_breaches, 1);
  EXPECT_EQ(first.progress.error_breaches, 1);
  EXPECT_TRUE(Contains(first.reason, "latency breach 1/3")) << first.reason;
  EXPECT_TRUE(Contains(first.reason, "error breach 1/2")) << first.reason;
  const Decision second = Check(d, BothBreach(), At(2));
  EXPECT_EQ(second.action, Action::kRollback);  // the error limit is reached first
  EXPECT_EQ(second.progress.latency_breaches, 2);
}

TEST(RolloutPlannerTest, LatencyThenBothBreachedRollsBackOnTheThirdLatencyBreach) {
  Policy p;
  p.error_breaches_to_rollback = 5;
  Deployment d = Started(p);
  Check(d, LatencyBreach(), At(1));
  Check(d, LatencyBreach(), At(2));
  const Decision third = Check(d, BothBreach(), At(3));
  EXPECT_EQ(third.action, Action::kRollback);
  EXPECT_TRUE(Contains(third.reason, "latency breached on 3")) << third.reason;
}

TEST(RolloutPlannerTest, LimitOfOneRollsBackOnTheFirstBreach) {
  Policy p;
  p.latency_breaches_to_rollback = 1;
  Deployment d = Started(p);
  EXPECT_EQ(Check(d, LatencyBreach(), At(1)).action, Action::kRollback);
}

TEST(RolloutPlannerTest, CustomBreachLimitsAreHonoured) {
  Policy p;
  p.latency_breaches_to_rollback = 5;
  Deployment d = Started(p);
  for (int m = 1; m <= 4; ++m) {
    SCOPED_TRACE(m);
    EXPECT_EQ(Check(d, LatencyBreach(), At(m)).action, Action::kHold);
  }
  EXPECT_EQ(Check(d, LatencyBreach(), At(5)).action, Action::kRollback);
}

// ---- auto_rollback off ----

TEST(RolloutPlannerTest, AutoRollbackOffPausesInsteadOfRollingBack) {
  Policy p;
  p.auto_rollback = false;
  Deployment d = Started(p);
  Check(d, LatencyBreach(), At(1));
  Check(d, LatencyBreach(), At(2));
  const Decision third = PlanCheck(d, LatencyBreach(), At(3));
  EXPECT_EQ(third.action, Action::kPause);
  EXPECT_DOUBLE_EQ(third.target_weight, 0.10);  // traffic stays where it is
  EXPECT_TRUE(Contains(third.reason, "auto_rollback off")) << third.reason;
  EXPECT_TRUE(Contains(third.reason, "latency breached on 3 consecutive checks")) << third.reason;
}

TEST(RolloutPlannerTest, AutoRollbackOffPausesOnErrorBreaches) {
  Policy p;
  p.auto_rollback = false;
  Deployment d = Started(p);
  Check(d, ErrorBreach(), At(1));
  const Decision second = PlanCheck(d, ErrorBreach(), At(2));
  EXPECT_EQ(second.action, Action::kPause);
  EXPECT_TRUE(Contains(second.reason, "auto_rollback off")) << second.reason;
}

// ---- Reaching 1.0 ----

TEST(RolloutPlannerTest, ZeroFinalBakeCompletesWhenTheNextWeightIsOne) {
  Deployment d = Started();
  d.canary_weight = 0.9;
  const Decision decision = PlanCheck(d, Healthy(), At(10));
  EXPECT_EQ(decision.action, Action::kComplete);
  EXPECT_EQ(decision.target_weight, 1.0);
  EXPECT_TRUE(Contains(decision.reason, "complete")) << decision.reason;
}

TEST(RolloutPlannerTest, PositiveFinalBakeShiftsToOneThenCompletesAfterTheFinalBake) {
  Policy p;
  p.final_bake = minutes(5);
  Deployment d = Started(p);
  d.canary_weight = 0.9;
  const Decision shift = Check(d, Healthy(), At(10));
  EXPECT_EQ(shift.action, Action::kShift);
  EXPECT_EQ(shift.target_weight, 1.0);
  EXPECT_EQ(d.state, DeploymentState::kInProgress);
  for (int m = 11; m < 15; ++m) {
    SCOPED_TRACE(m);
    const Decision hold = Check(d, Healthy(), At(m));
    EXPECT_EQ(hold.action, Action::kHold);
    EXPECT_EQ(hold.target_weight, 1.0);
    EXPECT_TRUE(Contains(hold.reason, "final bake")) << hold.reason;
  }
  const Decision complete = Check(d, Healthy(), At(15));
  EXPECT_EQ(complete.action, Action::kComplete);
  EXPECT_EQ(complete.target_weight, 1.0);
  EXPECT_TRUE(Contains(complete.reason, "final bake")) << complete.reason;
}

TEST(RolloutPlannerTest, FinalBakeIsUsedAtOneInsteadOfTheBake) {
  Policy p;
  p.bake = minutes(10);
  p.final_bake = minutes(30);
  Deployment d = Started(p);
  d.canary_weight = 1.0;
  EXPECT_EQ(PlanCheck(d, Healthy(), At(10)).action, Action::kHold);
  EXPECT_EQ(PlanCheck(d, Healthy(), At(29)).action, Action::kHold);
  EXPECT_EQ(PlanCheck(d, Healthy(), At(30)).action, Action::kComplete);
}

TEST(RolloutPlannerTest, BreachDuringTheFinalBakeRestartsIt) {
  Policy p;
  p.final_bake = minutes(5);
  Deployment d = Started(p);
  d.canary_weight = 1.0;
  Check(d, Healthy(), At(1));
  Check(d, Healthy(), At(2));
  EXPECT_EQ(Check(d, LatencyBreach(), At(3)).action, Action::kHold);
  EXPECT_EQ(Check(d, Healthy(), At(5)).action, Action::kHold);
  EXPECT_EQ(Check(d, Healthy(), At(7)).action, Action::kHold);
  EXPECT_EQ(Check(d, Healthy(), At(8)).action, Action::kComplete);
}

TEST(RolloutPlannerTest, BreachesAtFullWeightStillRollBack) {
  Policy p;
  p.final_bake = minutes(5);
  Deployment d = Started(p);
  d.canary_weight = 1.0;
  Check(d, ErrorBreach(), At(1));
  const Decision second = Check(d, ErrorBreach(), At(2));
  EXPECT_EQ(second.action, Action::kRollback);
  EXPECT_EQ(second.target_weight, 0.0);
}

TEST(RolloutPlannerTest, FullRolloutWithFinalBakeEndsAfterTheFinalBake) {
  Policy p;
  p.final_bake = minutes(15);
  Deployment d = Started(p);
  const auto changes = RunHealthy(d);
  ASSERT_EQ(changes.size(), 9u);
  EXPECT_EQ(changes.back().first, 90);  // shift to 1.0
  EXPECT_EQ(changes.back().second, 1.0);
  EXPECT_EQ(d.state, DeploymentState::kCompleted);
  EXPECT_EQ(Minute(d.progress.last_check_at), 105);  // completed at 90 + 15
}

// ---- Step lists ----

TEST(RolloutPlannerTest, StepListIsWalkedEntryByEntry) {
  Policy p;
  p.steps = {0.01, 0.05, 0.10, 0.25, 0.50, 1.0};
  Deployment d = Started(p);
  EXPECT_DOUBLE_EQ(d.canary_weight, 0.01);
  const auto changes = RunHealthy(d);
  ASSERT_EQ(changes.size(), 5u);
  const std::vector<double> expected = {0.05, 0.10, 0.25, 0.50, 1.0};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(changes[i].first, 10 * static_cast<int>(i + 1));
    EXPECT_DOUBLE_EQ(changes[i].second, expected[i]);
  }
  EXPECT_EQ(d.state, DeploymentState::kCompleted);
}

TEST(RolloutPlannerTest, StepListNotEndingAtOneCompletesAfterItsLastEntry) {
  Policy p;
  p.steps = {0.05, 0.25, 0.5};
  Deployment d = Started(p);
  const auto changes = RunHealthy(d);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_DOUBLE_EQ(changes[0].second, 0.25);
  EXPECT_DOUBLE_EQ(changes[1].second, 0.5);
  EXPECT_EQ(changes[2].second, 1.0);
  EXPECT_EQ(changes[2].first, 30);
  EXPECT_EQ(d.state, DeploymentState::kCompleted);
}

TEST(RolloutPlannerTest, StepListNotEndingAtOneWithFinalBakeShiftsToOneFirst) {
  Policy p;
  p.steps = {0.05, 0.5};
  p.final_bake = minutes(10);
  Deployment d = Started(p);
  d.canary_weight = 0.5;
  const Decision shift = Check(d, Healthy(), At(10));
  EXPECT_EQ(shift.action, Action::kShift);
  EXPECT_EQ(shift.target_weight, 1.0);
  EXPECT_EQ(Check(d, Healthy(), At(20)).action, Action::kComplete);
}

// ---- Progress bookkeeping ----

TEST(RolloutPlannerTest, EveryCheckCountsAndRecordsItsTime) {
  Deployment d = Started();
  EXPECT_EQ(d.progress.checks, 0);
  EXPECT_FALSE(d.progress.last_check_at.has_value());
  const std::vector<HealthReport> reports = {Healthy(), LatencyBreach(), Inconclusive(),
                                             ErrorBreach(), Healthy()};
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const Timestamp now = At(static_cast<int>(i) + 1);
    const Decision decision = Check(d, reports[i], now);
    EXPECT_EQ(decision.progress.checks, static_cast<std::int64_t>(i) + 1);
    EXPECT_EQ(Minute(decision.progress.last_check_at), Minute(now));
  }
}

TEST(RolloutPlannerTest, ShiftKeepsTheCheckCount) {
  Deployment d = Started();
  RunHealthy(d, 10);
  EXPECT_EQ(d.progress.checks, 10);
  EXPECT_EQ(Minute(d.progress.last_check_at), 10);
}

TEST(RolloutPlannerTest, RollbackAndCompleteAlsoRecordTheCheck) {
  Deployment d = Started();
  d.progress.latency_breaches = 2;
  d.progress.checks = 7;
  const Decision rollback = PlanCheck(d, LatencyBreach(), At(3));
  ASSERT_EQ(rollback.action, Action::kRollback);
  EXPECT_EQ(rollback.progress.checks, 8);
  EXPECT_EQ(Minute(rollback.progress.last_check_at), 3);

  Deployment full = Started();
  full.canary_weight = 1.0;
  const Decision complete = PlanCheck(full, Healthy(), At(1));
  ASSERT_EQ(complete.action, Action::kComplete);
  EXPECT_EQ(complete.progress.checks, 1);
  EXPECT_EQ(Minute(complete.progress.last_check_at), 1);
}

TEST(RolloutPlannerTest, PlanCheckDoesNotChangeTheDeployment) {
  const Deployment d = Started();
  const Deployment copy = d;
  PlanCheck(d, LatencyBreach(), At(1));
  EXPECT_EQ(d, copy);
}

TEST(RolloutPlannerTest, StartWeightResetsCountersAndBakeButKeepsHistory) {
  RolloutProgress p;
  p.weight_since = T0();
  p.healthy_since = T0();
  p.last_check_at = At(7);
  p.latency_breaches = 2;
  p.error_breaches = 1;
  p.failed_checks = 3;
  p.checks = 42;
  const RolloutProgress started = StartWeight(p, At(8));
  EXPECT_EQ(Minute(started.weight_since), 8);
  EXPECT_EQ(Minute(started.healthy_since), 8);
  EXPECT_EQ(started.latency_breaches, 0);
  EXPECT_EQ(started.error_breaches, 0);
  EXPECT_EQ(started.checks, 42);
  EXPECT_EQ(Minute(started.last_check_at), 7);
}

// ---- Checks that could not be made ----

TEST(RolloutPlannerTest, RetryableErrorHolds) {
  Deployment d = Started();
  d.canary_weight = 0.3;
  const Decision decision =
      PlanCheckError(d, Error(ErrorCode::kUnavailable, "metrics down"), At(1));
  EXPECT_EQ(decision.action, Action::kHold);
  EXPECT_DOUBLE_EQ(decision.target_weight, 0.3);
  EXPECT_EQ(decision.progress.failed_checks, 1);
  EXPECT_TRUE(Contains(decision.reason, "will retry")) << decision.reason;
  EXPECT_TRUE(Contains(decision.reason, "metrics down")) << decision.reason;
}

TEST(RolloutPlannerTest, RetryableErrorFailsOnTheFifthInARow) {
  ASSERT_EQ(kMaxFailedChecks, 5);
  Deployment d = Started();
  for (int m = 1; m < kMaxFailedChecks; ++m) {
    SCOPED_TRACE(m);
    const Decision hold = CheckError(d, Error(ErrorCode::kTimeout, "timed out"), At(m));
    EXPECT_EQ(hold.action, Action::kHold);
    EXPECT_EQ(hold.progress.failed_checks, m);
  }
  const Decision fail = CheckError(d, Error(ErrorCode::kTimeout, "timed out"), At(5));
  EXPECT_EQ(fail.action, Action::kFail);
  EXPECT_EQ(fail.target_weight, 0.0);
  EXPECT_TRUE(Contains(fail.reason, "5 failed checks")) << fail.reason;
}

TEST(RolloutPlannerTest, EveryRetryableKindIsRetried) {
  for (ErrorCode code : {ErrorCode::kThrottled, ErrorCode::kUnavailable, ErrorCode::kTimeout}) {
    SCOPED_TRACE(ErrorCodeName(code));
    const Decision decision = PlanCheckError(Started(), Error(code, "x"), At(1));
    EXPECT_EQ(decision.action, Action::kHold);
  }
}

TEST(RolloutPlannerTest, SuccessfulCheckResetsTheFailedCheckCount) {
  Deployment d = Started();
  for (int m = 1; m <= 4; ++m) CheckError(d, Error(ErrorCode::kThrottled, "slow down"), At(m));
  EXPECT_EQ(d.progress.failed_checks, 4);
  EXPECT_EQ(Check(d, Healthy(), At(5)).progress.failed_checks, 0);
  for (int m = 6; m <= 9; ++m) {
    SCOPED_TRACE(m);
    EXPECT_EQ(CheckError(d, Error(ErrorCode::kThrottled, "slow down"), At(m)).action,
              Action::kHold);
  }
}

TEST(RolloutPlannerTest, InconclusiveCheckAlsoResetsTheFailedCheckCount) {
  Deployment d = Started();
  d.progress.failed_checks = 4;
  EXPECT_EQ(PlanCheck(d, Inconclusive(), At(1)).progress.failed_checks, 0);
}

TEST(RolloutPlannerTest, NonRetryableErrorFailsAtOnce) {
  for (ErrorCode code :
       {ErrorCode::kValidation, ErrorCode::kNotFound, ErrorCode::kConflict,
        ErrorCode::kFailedPrecondition, ErrorCode::kUnauthenticated, ErrorCode::kPermissionDenied,
        ErrorCode::kModelError, ErrorCode::kInternal}) {
    SCOPED_TRACE(ErrorCodeName(code));
    const Decision decision =
        PlanCheckError(Started(), Error(code, "endpoint 'recs' does not exist"), At(1));
    EXPECT_EQ(decision.action, Action::kFail);
    EXPECT_EQ(decision.target_weight, 0.0);
    EXPECT_TRUE(Contains(decision.reason, "non-retryable")) << decision.reason;
    EXPECT_TRUE(Contains(decision.reason, std::string(ErrorCodeName(code)))) << decision.reason;
  }
}

TEST(RolloutPlannerTest, FailedCheckRestartsTheBake) {
  Deployment d = Started();
  for (int m = 1; m <= 9; ++m) Check(d, Healthy(), At(m));
  const Decision failed = CheckError(d, Error(ErrorCode::kUnavailable, "down"), At(10));
  EXPECT_EQ(failed.action, Action::kHold);
  EXPECT_EQ(Minute(failed.progress.healthy_since), 10);
  EXPECT_EQ(Check(d, Healthy(), At(11)).action, Action::kHold);
  EXPECT_EQ(Check(d, Healthy(), At(20)).action, Action::kShift);
}

TEST(RolloutPlannerTest, FailedCheckLeavesBreachCountersUnchanged) {
  Deployment d = Started();
  d.progress.latency_breaches = 2;
  d.progress.error_breaches = 1;
  const Decision decision = PlanCheckError(d, Error(ErrorCode::kUnavailable, "down"), At(1));
  EXPECT_EQ(decision.progress.latency_breaches, 2);
  EXPECT_EQ(decision.progress.error_breaches, 1);
}

// ---- Names ----

TEST(RolloutPlannerTest, ActionNames) {
  EXPECT_EQ(ActionName(Action::kHold), "hold");
  EXPECT_EQ(ActionName(Action::kShift), "shift");
  EXPECT_EQ(ActionName(Action::kComplete), "complete");
  EXPECT_EQ(ActionName(Action::kRollback), "rollback");
  EXPECT_EQ(ActionName(Action::kPause), "pause");
  EXPECT_EQ(ActionName(Action::kFail), "fail");
}

// ---- Per-step bake, manual gates, progress deadline (issue 15) ----

// steps [0.05, {0.25, bake 30m}, {0.5, gate manual}, 1.0], bake 10m.
Policy GatedPolicy() {
  Policy p;
  p.steps = {0.05, 0.25, 0.5, 1.0};
  p.steps[1].bake = minutes(30);
  p.steps[2].manual_gate = true;
  return p;
}

TEST(RolloutPlannerTest, AStepsOwnBakeReplacesThePolicyBakeAtItsWeight) {
  Deployment d = Started(GatedPolicy());
  const auto changes = RunHealthy(d, 45);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0], std::make_pair(10, 0.25));  // bake 10m at 5%
  EXPECT_EQ(changes[1], std::make_pair(40, 0.5));   // its own 30m at 25%
}

TEST(RolloutPlannerTest, AManualGateWaitsAfterItsBakeInsteadOfSteppingOn) {
  Deployment d = Started(GatedPolicy());
  RunHealthy(d, 49);
  ASSERT_DOUBLE_EQ(d.canary_weight, 0.5);
  EXPECT_FALSE(d.progress.awaiting_approval);
  const Decision reached = Check(d, Healthy(), At(50));
  EXPECT_EQ(reached.action, Action::kHold);
  EXPECT_TRUE(d.progress.awaiting_approval);
  EXPECT_TRUE(Contains(reached.reason, "waiting for approval")) << reached.reason;
  // Hours of healthy checks later it still waits.
  for (int m = 51; m < 300; ++m) EXPECT_EQ(Check(d, Healthy(), At(m)).action, Action::kHold);
  EXPECT_DOUBLE_EQ(d.canary_weight, 0.5);
  EXPECT_TRUE(d.progress.awaiting_approval);
}

TEST(RolloutPlannerTest, ApprovalTakesTheHeldStepAndClearsTheWait) {
  Deployment d = Started(GatedPolicy());
  RunHealthy(d, 50);
  ASSERT_TRUE(d.progress.awaiting_approval);
  const Decision approved = PlanApproval(d, At(61), "alice");
  EXPECT_EQ(approved.action, Action::kComplete);  // next is 1.0, no final bake
  EXPECT_EQ(approved.target_weight, 1.0);
  EXPECT_FALSE(approved.progress.awaiting_approval);
  EXPECT_TRUE(Contains(approved.reason, "approved by alice")) << approved.reason;

  Policy with_final = GatedPolicy();
  with_final.final_bake = minutes(5);
  Deployment f = Started(with_final);
  RunHealthy(f, 50);
  const Decision shift = PlanApproval(f, At(61), "bob");
  EXPECT_EQ(shift.action, Action::kShift);
  EXPECT_EQ(shift.target_weight, 1.0);
  EXPECT_EQ(Minute(shift.progress.weight_since), 61);
}

TEST(RolloutPlannerTest, ABreachWhileWaitingAtAGateStillRollsBack) {
  Deployment d = Started(GatedPolicy());
  RunHealthy(d, 50);
  ASSERT_TRUE(d.progress.awaiting_approval);
  EXPECT_EQ(Check(d, ErrorBreach(), At(51)).action, Action::kHold);
  const Decision rollback = Check(d, ErrorBreach(), At(52));
  EXPECT_EQ(rollback.action, Action::kRollback);
  EXPECT_EQ(d.state, DeploymentState::kRollingBack);
}

TEST(RolloutPlannerTest, AGateAtFullWeightWaitsBeforeCompleting) {
  Policy p;
  p.steps = {0.5, 1.0};
  p.steps[1].manual_gate = true;
  p.steps[1].bake = minutes(5);
  Deployment d = Started(p);
  RunHealthy(d, 15);
  EXPECT_DOUBLE_EQ(d.canary_weight, 1.0);
  EXPECT_EQ(d.state, DeploymentState::kInProgress);
  EXPECT_TRUE(d.progress.awaiting_approval);
  EXPECT_EQ(PlanApproval(d, At(20), "carol").action, Action::kComplete);
}

TEST(RolloutPlannerTest, ProgressDeadlineRollsBackAHeldGate) {
  Policy p = GatedPolicy();
  p.progress_deadline = minutes(30);
  Deployment d = Started(p);
  RunHealthy(d, 69);  // 50% since minute 40, waiting since 50
  ASSERT_EQ(d.state, DeploymentState::kInProgress);
  const Decision ended = Check(d, Healthy(), At(70));
  EXPECT_EQ(ended.action, Action::kRollback);
  EXPECT_EQ(ended.target_weight, 0);
  EXPECT_TRUE(Contains(ended.reason, "progress_deadline 30m")) << ended.reason;
  EXPECT_TRUE(Contains(ended.reason, "waiting for approval")) << ended.reason;
}

TEST(RolloutPlannerTest, ProgressDeadlineFailsWhenThePolicySaysFail) {
  Policy p;
  p.progress_deadline = minutes(15);
  p.on_progress_deadline = DeadlineAction::kFail;
  Deployment d = Started(p);
  for (int m = 1; m < 15; ++m) EXPECT_EQ(Check(d, Inconclusive(), At(m)).action, Action::kHold);
  const Decision ended = Check(d, Inconclusive(), At(15));
  EXPECT_EQ(ended.action, Action::kFail);
  EXPECT_TRUE(Contains(ended.reason, "progress_deadline")) << ended.reason;
  // A failed metrics read is a hold too: the deadline applies to it as well.
  Deployment e = Started(p);
  EXPECT_EQ(CheckError(e, Error(ErrorCode::kUnavailable, "metrics down"), At(16)).action,
            Action::kFail);
}

TEST(RolloutPlannerTest, ProgressDeadlineDoesNotEndARolloutThatKeepsStepping) {
  Policy p;
  p.progress_deadline = minutes(11);  // each step takes 10 minutes
  Deployment d = Started(p);
  RunHealthy(d);
  EXPECT_EQ(d.state, DeploymentState::kCompleted);
  Policy off;  // progress_deadline 0: off
  Deployment h = Started(off);
  for (int m = 1; m < 2000; ++m) EXPECT_EQ(Check(h, Inconclusive(), At(m)).action, Action::kHold);
}

}  // namespace
}  // namespace mlcanary::core

// ---- Hooks (issue 15) ----
namespace mlcanary::core {
namespace {

AnalysisResult Vote(AnalysisVerdict v, const std::string& reason = "") {
  return AnalysisResult{.url = "http://eval/x", .verdict = v, .reason = reason, .status = 200};
}

TEST(HookPlanTest, ApplyAnalysisFoldsTheVotesIntoTheVerdict) {
  HealthReport healthy = Healthy();
  ApplyAnalysis(healthy, {Vote(AnalysisVerdict::kHealthy)});
  EXPECT_EQ(healthy.verdict, Verdict::kHealthy);
  EXPECT_FALSE(healthy.analysis_breached);
  ASSERT_EQ(healthy.analysis.size(), 1u);

  HealthReport breached = Healthy();
  ApplyAnalysis(breached,
                {Vote(AnalysisVerdict::kHealthy), Vote(AnalysisVerdict::kBreached, "auc")});
  EXPECT_EQ(breached.verdict, Verdict::kAnalysisBreached);
  EXPECT_TRUE(breached.analysis_breached);
  EXPECT_TRUE(breached.breached());
  EXPECT_TRUE(Contains(breached.reason, "analysis breached (http://eval/x: auc)"))
      << breached.reason;

  // Too little traffic to judge the metrics: the offline vote still counts.
  HealthReport few = Inconclusive();
  ApplyAnalysis(few, {Vote(AnalysisVerdict::kBreached)});
  EXPECT_EQ(few.verdict, Verdict::kAnalysisBreached);

  // A metric breach keeps its verdict; the analysis breach is said beside it.
  HealthReport errors = ErrorBreach();
  ApplyAnalysis(errors, {Vote(AnalysisVerdict::kBreached)});
  EXPECT_EQ(errors.verdict, Verdict::kErrorBreached);
  EXPECT_TRUE(errors.analysis_breached);

  HealthReport unsure = Healthy();
  ApplyAnalysis(unsure, {Vote(AnalysisVerdict::kInconclusive, "no labels")});
  EXPECT_EQ(unsure.verdict, Verdict::kInconclusive);
  EXPECT_FALSE(unsure.analysis_breached);
  EXPECT_EQ(ParseVerdict("analysis_breached"), Verdict::kAnalysisBreached);
}

TEST(HookPlanTest, AnalysisBreachesHaveTheirOwnCounter) {
  Policy p;
  p.analysis_breaches_to_rollback = 3;
  Deployment d = Started(p);
  HealthReport vote = Healthy();
  ApplyAnalysis(vote, {Vote(AnalysisVerdict::kBreached)});
  EXPECT_EQ(Check(d, vote, At(1)).action, Action::kHold);
  EXPECT_EQ(d.progress.analysis_breaches, 1);
  EXPECT_EQ(d.progress.error_breaches, 0);
  EXPECT_EQ(Check(d, vote, At(2)).action, Action::kHold);
  const Decision third = Check(d, vote, At(3));
  EXPECT_EQ(third.action, Action::kRollback);
  EXPECT_TRUE(Contains(third.reason, "analysis breached on 3 consecutive checks")) << third.reason;
}

TEST(HookPlanTest, AHookHoldKeepsTheWeightAndTheBakeAndMeetsTheDeadline) {
  Policy p;
  p.bake = minutes(2);
  p.progress_deadline = minutes(4);
  Deployment d = Started(p);
  Check(d, Healthy(), At(1));
  const Decision planned = PlanCheck(d, Healthy(), At(2));
  ASSERT_EQ(planned.action, Action::kShift);
  const Decision held = PlanHookHold(d, planned, "confirm_step", "answered HTTP 409", At(2));
  EXPECT_EQ(held.action, Action::kHold);
  EXPECT_DOUBLE_EQ(held.target_weight, d.canary_weight);
  EXPECT_EQ(held.progress.waiting_hook, "confirm_step");
  EXPECT_EQ(held.progress.weight_since, d.progress.weight_since);
  EXPECT_EQ(held.progress.healthy_since, d.progress.healthy_since) << "the bake stays done";
  EXPECT_EQ(held.progress.checks, 2);
  EXPECT_TRUE(Contains(held.reason, "held by the confirm_step hook (answered HTTP 409)"))
      << held.reason;
  Apply(d, held);
  // The next healthy check plans the step again (the hook is asked again).
  const Decision again = PlanCheck(d, Healthy(), At(3));
  EXPECT_EQ(again.action, Action::kShift);
  EXPECT_EQ(again.progress.waiting_hook, "") << "cleared by every check";
  // Held past the deadline: rolled back, the reason naming the hook.
  const Decision late = PlanHookHold(d, again, "confirm_step", "answered HTTP 409", At(4));
  EXPECT_EQ(late.action, Action::kRollback);
  EXPECT_TRUE(Contains(late.reason, "progress_deadline")) << late.reason;
  EXPECT_TRUE(Contains(late.reason, "held by the confirm_step hook")) << late.reason;
}

}  // namespace
}  // namespace mlcanary::core
