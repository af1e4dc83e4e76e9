// The controller over a SQLite store holding records this version did not
// write: a policy an older version accepted (a weight below today's weight
// resolution) and a record that does not decode at all. Neither stops the
// checks of the other deployments.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controller/controller.h"
#include "controller/controller_loop.h"
#include "core/testing/port_fakes.h"
#include "core/testing/virtual_traffic_control.h"
#include "store/sqlite_deployment_store.h"
#include "store/testing/temp_dir.h"

namespace mlcanary::controller {
namespace {

using core::Action;
using core::DeploymentState;
using core::ErrorCode;
using std::chrono::minutes;

bool Contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

core::ModelSpec Model(std::string path) {
  core::ModelSpec m;
  m.path = std::move(path);
  return m;
}

const CheckOutcome* Find(const std::vector<CheckOutcome>& outcomes, std::string_view id) {
  auto it = std::find_if(outcomes.begin(), outcomes.end(),
                         [&](const CheckOutcome& o) { return o.deployment_id == id; });
  return it == outcomes.end() ? nullptr : &*it;
}

class StoredRecordsTest : public ::testing::Test {
 protected:
  StoredRecordsTest()
      : clock_(core::Timestamp(std::chrono::sys_days(std::chrono::year(2026) / 1 / 1))) {
    for (const char* name : {"recs", "search"}) {
      core::Endpoint e;
      e.name = name;
      e.variants.push_back(
          {.name = "production", .weight = 1.0, .instances = 1, .model = Model("models/v1.json")});
      traffic_.AddEndpoint(e);
    }
    policy_.bake = minutes(2);
    policy_.interval = minutes(1);
    metrics_.production = {.invocations = 1000, .p50_ms = 20, .p90_ms = 30, .p99_ms = 40};
    metrics_.canary = metrics_.production;  // both healthy, alike
    auto store = store::SqliteDeploymentStore::Open(path_);
    EXPECT_TRUE(store) << store.error().ToString();
    if (store) store_ = std::move(*store);
  }

  Ports ports() {
    return {.traffic = traffic_,
            .metrics = metrics_,
            .store = *store_,
            .notifier = notifier_,
            .clock = clock_};
  }

  // Starts `id` on `endpoint` at 10 %.
  void Start(Controller& c, const std::string& id, const std::string& endpoint) {
    auto d = c.StartDeployment({.id = id,
                                .endpoint = endpoint,
                                .canary_variant = "canary",
                                .model = Model("models/v2.json"),
                                .instances = 1,
                                .policy = policy_,
                                .actor = "test"});
    ASSERT_TRUE(d) << d.error().ToString();
  }

  // Writes to the file behind the store's back: what an older version, or a
  // broken disk, left there.
  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close_v2(db);
  }

  double Weight(std::string_view endpoint, std::string_view variant) {
    auto e = traffic_.DescribeEndpoint(endpoint);
    const core::Variant* v = e ? e->FindVariant(variant) : nullptr;
    return v ? v->weight : -1;
  }

  store::testing::TempDir dir_;
  std::string path_ = dir_.File("mlcanary.db");
  core::ManualClock clock_;
  core::testing::VirtualTrafficControl traffic_;
  core::testing::ScriptedMetrics metrics_;
  core::testing::NullNotifier notifier_;
  core::Policy policy_;
  std::unique_ptr<store::SqliteDeploymentStore> store_;
};

TEST_F(StoredRecordsTest, APolicyAnOlderVersionAcceptedStillReadsAndItsDeploymentFailsClearly) {
  ASSERT_TRUE(store_);
  Controller c(ports());
  Start(c, "old", "recs");
  Start(c, "new", "search");
  // An older version accepted a step below the 1e-6 weight resolution: its
  // canary would "step" from 10 % to 10 % for ever.
  Sql("UPDATE deployments SET record = json_set(record, '$.policy.step', 1e-7) WHERE id = 'old'");

  auto listed = store_->List({});
  ASSERT_TRUE(listed) << listed.error().ToString();
  EXPECT_EQ(listed->size(), 2u);
  auto old = store_->Get("old");
  ASSERT_TRUE(old) << old.error().ToString();
  EXPECT_DOUBLE_EQ(old->policy.step, 1e-7);

  clock_.Advance(policy_.interval);
  auto outcomes = c.Tick();
  ASSERT_TRUE(outcomes) << outcomes.error().ToString();
  const CheckOutcome* checked = Find(*outcomes, "new");
  ASSERT_NE(checked, nullptr);
  EXPECT_TRUE(checked->ran);
  EXPECT_FALSE(checked->error);
  EXPECT_EQ(checked->action, Action::kHold) << checked->reason;
  const CheckOutcome* failed = Find(*outcomes, "old");
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->action, Action::kFail);
  EXPECT_TRUE(Contains(failed->reason, "written by an older version")) << failed->reason;
  EXPECT_TRUE(Contains(failed->reason, "policy.step: weight 1e-07 must be at least 1e-06"))
      << failed->reason;
  EXPECT_EQ(store_->Get("old")->state, DeploymentState::kFailed);
  EXPECT_DOUBLE_EQ(Weight("recs", "production"), 1.0);
  EXPECT_DOUBLE_EQ(Weight("recs", "canary"), 0);

  // The other endpoint goes on: after its bake it steps.
  clock_.Advance(policy_.interval);
  ASSERT_TRUE(c.Tick());
  EXPECT_DOUBLE_EQ(Weight("search", "canary"), 0.2);

  // A new request with such a weight is still refused, naming the field.
  core::Policy tiny = policy_;
  tiny.step = 1e-7;
  auto refused = c.StartDeployment(
      {.id = "tiny", .endpoint = "recs", .model = Model("models/v2.json"), .policy = tiny});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kValidation);
  EXPECT_TRUE(Contains(refused.error().message(), "policy.step")) << refused.error().message();
}

TEST_F(StoredRecordsTest, OneUnreadableRecordIsSkippedAndReportedAndStopsNoOtherDeployment) {
  ASSERT_TRUE(store_);
  Controller c(ports());
  Start(c, "bad", "recs");
  Start(c, "good", "search");
  Sql("UPDATE deployments SET record = '{\"id\": \"bad\", tru' WHERE id = 'bad'");

  clock_.Advance(policy_.interval);
  auto first = c.Tick();
  ASSERT_TRUE(first) << first.error().ToString();
  const CheckOutcome* bad = Find(*first, "bad");
  ASSERT_NE(bad, nullptr);
  EXPECT_TRUE(bad->ran);
  EXPECT_TRUE(bad->unreadable);
  EXPECT_EQ(bad->deployment.endpoint, "recs");
  ASSERT_TRUE(bad->error);
  EXPECT_EQ(bad->error->code(), ErrorCode::kInternal);
  EXPECT_TRUE(Contains(bad->error->message(), "deployment 'bad': corrupt record"))
      << bad->error->message();
  const CheckOutcome* good = Find(*first, "good");
  ASSERT_NE(good, nullptr);
  EXPECT_FALSE(good->error);
  EXPECT_EQ(good->action, Action::kHold) << good->reason;
  ASSERT_TRUE(c.Notes("bad"));
  ASSERT_TRUE(c.Notes("bad")->last_check_error);

  // Reported again once per kUnreadableReportInterval, not at every tick.
  auto again = c.Tick();
  ASSERT_TRUE(again);
  EXPECT_EQ(Find(*again, "bad"), nullptr);
  clock_.Advance(kUnreadableReportInterval);
  auto later = c.Tick();
  ASSERT_TRUE(later);
  EXPECT_NE(Find(*later, "bad"), nullptr);
  EXPECT_DOUBLE_EQ(Weight("search", "canary"), 0.2);  // the other deployment stepped
  EXPECT_DOUBLE_EQ(Weight("recs", "canary"), 0.1);    // the unreadable one was left as it was

  // At start-up too: the others are reconciled, the unreadable one's endpoint
  // is left alone, and the error names it.
  ASSERT_TRUE(traffic_.SetWeights("search", {{"production", 1.0}, {"canary", 0}}));
  ASSERT_TRUE(traffic_.SetWeights("recs", {{"production", 1.0}, {"canary", 0}}));
  Controller restarted(ports());
  auto reconciled = restarted.ReconcileAll();
  ASSERT_FALSE(reconciled);
  EXPECT_TRUE(Contains(reconciled.error().message(), "deployment 'bad' skipped"))
      << reconciled.error().message();
  EXPECT_DOUBLE_EQ(Weight("search", "canary"), 0.2);
  EXPECT_DOUBLE_EQ(Weight("recs", "canary"), 0);
}

// With a worker per deployment (SageMaker) the loop lists, reports the
// unreadable record to its observer and works on the others.
TEST_F(StoredRecordsTest, TheLoopWithAWorkerPerDeploymentReportsAnUnreadableRecordAndGoesOn) {
  ASSERT_TRUE(store_);
  Controller c(ports());
  Start(c, "bad", "recs");
  Start(c, "good", "search");
  Sql("UPDATE deployments SET record = '[1, 2]' WHERE id = 'bad'");
  clock_.Advance(policy_.interval);
  std::mutex mu;
  std::vector<CheckOutcome> seen;
  ControllerLoop loop(c, std::chrono::milliseconds(10),
                      [&](const core::Result<std::vector<CheckOutcome>>& outcomes) {
                        ASSERT_TRUE(outcomes) << outcomes.error().ToString();
                        std::lock_guard lock(mu);
                        seen.insert(seen.end(), outcomes->begin(), outcomes->end());
                      },
                      {.worker_per_deployment = true});
  loop.Start();
  auto both_seen = [&] {
    std::lock_guard lock(mu);
    return Find(seen, "bad") != nullptr && Find(seen, "good") != nullptr;
  };
  for (int i = 0; i < 1000 && !both_seen(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  loop.Stop();
  std::lock_guard lock(mu);
  const CheckOutcome* bad = Find(seen, "bad");
  ASSERT_NE(bad, nullptr);
  EXPECT_TRUE(bad->unreadable);
  EXPECT_EQ(std::count_if(seen.begin(), seen.end(),
                          [](const CheckOutcome& o) { return o.deployment_id == "bad"; }),
            1);  // once per kUnreadableReportInterval of the (stopped) clock
  const CheckOutcome* good = Find(seen, "good");
  ASSERT_NE(good, nullptr);
  EXPECT_FALSE(good->unreadable);
  EXPECT_FALSE(good->error);
  EXPECT_EQ(good->action, Action::kHold) << good->reason;
}

}  // namespace
}  // namespace mlcanary::controller
