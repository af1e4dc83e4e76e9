// The fleet's coordination on a real PostgreSQL server that this binary starts
// once (testing/postgres_server.h): the controller lease (core::LeaderLease),
// the fenced view of the store that a leader writes through, and the change
// feed (core::ChangeFeed, LISTEN/NOTIFY), and the LeaderElector of fleet/ on
// that lease. Every test has a schema of its own; two stores opened on it are
// two replicas.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/coordination.h"
#include "core/ports.h"
#include "fleet/leader_elector.h"
#include "store/postgres_deployment_store.h"
#include "store/testing/postgres_environment.h"
#include "store/testing/postgres_server.h"
#include "store/testing/sample_records.h"

namespace mlcanary::store {
namespace {

using namespace std::chrono_literals;
using core::ErrorCode;
using testing::PostgresServer;
using Steady = std::chrono::steady_clock;

using testing::PostgresEnvironment;

[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new PostgresEnvironment);

core::Endpoint MakeEndpoint(std::string name, double canary_weight) {
  core::Endpoint e{.name = std::move(name)};
  e.variants.push_back({.name = "production", .weight = 1 - canary_weight, .model = {.path = "a"}});
  e.variants.push_back({.name = "canary", .weight = canary_weight, .model = {.path = "b"}});
  return e;
}

class PostgresCoordinationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = PostgresEnvironment::server();
    ASSERT_NE(server_, nullptr) << PostgresEnvironment::error();
    static int counter = 0;
    const std::string schema = "c" + std::to_string(++counter);
    ASSERT_TRUE(server_->Exec("postgres", "CREATE SCHEMA " + schema));
    url_ = server_->Url("postgres") + "?options=-csearch_path%3D" + schema;
    a_ = Open();
    b_ = Open();
    ASSERT_TRUE(a_ && b_);
  }
  std::unique_ptr<PostgresDeploymentStore> Open() {
    auto store = PostgresDeploymentStore::Open(url_);
    EXPECT_TRUE(store) << store.error().ToString();
    return store ? std::move(*store) : nullptr;
  }
  std::unique_ptr<core::ChangeFeed> Feed(PostgresDeploymentStore& store) {
    auto feed = store.OpenChangeFeed();
    EXPECT_TRUE(feed) << feed.error().ToString();
    return feed ? std::move(*feed) : nullptr;
  }

  PostgresServer* server_ = nullptr;
  std::string url_;
  std::unique_ptr<PostgresDeploymentStore> a_, b_;  // two replicas
};

std::int64_t Granted(const core::Result<std::optional<core::LeaseGrant>>& r) {
  EXPECT_TRUE(r) << r.error().ToString();
  if (!r) return -1;
  EXPECT_TRUE(r->has_value()) << "the lease was not granted";
  return r->has_value() ? (*r)->fencing : -1;
}

void ExpectRefused(const core::Result<std::optional<core::LeaseGrant>>& r) {
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_FALSE(r->has_value()) << "granted with fencing " << (*r)->fencing;
}

// --- the lease ---

TEST_F(PostgresCoordinationTest, LeaseRenewsWithItsNumberAndExpiresOnTheDatabasesClock) {
  auto la = a_->Lease(), lb = b_->Lease();
  auto nobody = la->Current();
  ASSERT_TRUE(nobody) << nobody.error().ToString();
  EXPECT_EQ(nobody->holder, "");

  const std::int64_t first = Granted(la->TryAcquire("a", 1s));
  ASSERT_GT(first, 0);
  ExpectRefused(lb->TryAcquire("b", 1s));
  // A renewal keeps the number (and the lease).
  EXPECT_EQ(Granted(la->TryAcquire("a", 1s)), first);
  auto current = lb->Current();
  ASSERT_TRUE(current) << current.error().ToString();
  EXPECT_EQ(current->holder, "a");
  EXPECT_EQ(current->fencing, first);

  std::this_thread::sleep_for(1200ms);  // a stops renewing: its lease runs out
  current = lb->Current();
  ASSERT_TRUE(current);
  EXPECT_EQ(current->holder, "") << "expired";
  const std::int64_t second = Granted(lb->TryAcquire("b", 10s));
  EXPECT_GT(second, first);
  ExpectRefused(la->TryAcquire("a", 1s));
  EXPECT_EQ(Granted(lb->TryAcquire("b", 10s)), second);
  current = la->Current();
  EXPECT_EQ(current->holder, "b");
  EXPECT_EQ(current->fencing, second);
}

// The holder's own lease, expired but not taken by anyone, taken again: a new
// number all the same (what it started under the old one must stop first).
TEST_F(PostgresCoordinationTest, TheSameHolderAfterExpiryGetsAGreaterNumber) {
  auto lease = a_->Lease();
  const std::int64_t first = Granted(lease->TryAcquire("a", 1s));
  std::this_thread::sleep_for(1200ms);
  EXPECT_GT(Granted(lease->TryAcquire("a", 1s)), first);
}

TEST_F(PostgresCoordinationTest, ReleaseHandsOverAtOnceAndOnlyByItsHolder) {
  auto la = a_->Lease(), lb = b_->Lease();
  const std::int64_t first = Granted(la->TryAcquire("a", 60s));
  // Not the holder, or not its number: nothing happens.
  ASSERT_TRUE(lb->Release("b", first));
  ASSERT_TRUE(la->Release("a", first + 1));
  ExpectRefused(lb->TryAcquire("b", 60s));

  ASSERT_TRUE(la->Release("a", first));
  EXPECT_EQ(la->Current()->holder, "");
  const std::int64_t second = Granted(lb->TryAcquire("b", 60s));
  EXPECT_GT(second, first);
  // a's late release of its old lease does not free b's.
  ASSERT_TRUE(la->Release("a", first));
  ExpectRefused(la->TryAcquire("a", 60s));
  ASSERT_TRUE(lb->Release("b", second));
  // The same holder again after its release: a new number, never a reused one.
  const std::int64_t third = Granted(lb->TryAcquire("b", 60s));
  EXPECT_GT(third, second);
  EXPECT_EQ(lb->Current()->fencing, third);
}

TEST_F(PostgresCoordinationTest, LeasesAreNamedAndRefuseAnEmptyHolder) {
  auto controller = a_->Lease(), other = a_->Lease("reports");
  Granted(controller->TryAcquire("a", 60s));
  Granted(other->TryAcquire("b", 60s));  // another name, another lease
  EXPECT_EQ(other->Current()->holder, "b");
  auto empty = controller->TryAcquire("", 60s);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), ErrorCode::kValidation);
}

// --- fenced writes ---

TEST_F(PostgresCoordinationTest, AFencedWriteIsRefusedOnceAnotherHolderTookTheLease) {
  auto la = a_->Lease(), lb = b_->Lease();
  const std::int64_t first = Granted(la->TryAcquire("a", 1s));
  auto fenced = a_->Fenced(first);
  auto created = fenced->Create(testing::InProgressDeployment("d1", "recs"),
                                {testing::WeightChangeEvent("created")});
  ASSERT_TRUE(created) << created.error().ToString();
  ASSERT_TRUE(fenced->SaveEndpoint(MakeEndpoint("recs", 0.1)));

  // a pauses past its lease; b takes over.
  std::this_thread::sleep_for(1200ms);
  const std::int64_t second = Granted(lb->TryAcquire("b", 60s));
  ASSERT_GT(second, first);

  // a's late writes: refused, one line saying why, nothing written.
  core::Deployment late = *created;
  late.canary_weight = 0.5;
  auto updated = fenced->Update(late, {testing::WeightChangeEvent("late step")});
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().code(), ErrorCode::kFailedPrecondition);
  const std::string& message = updated.error().message();
  EXPECT_NE(message.find("update deployment 'd1': not the controller's leader any more: this "
                         "replica's lease (fencing " +
                         std::to_string(first) + ") was taken over (fencing " +
                         std::to_string(second) + ")"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
  auto saved = fenced->SaveEndpoint(MakeEndpoint("recs", 0.5));
  ASSERT_FALSE(saved);
  EXPECT_EQ(saved.error().code(), ErrorCode::kFailedPrecondition) << saved.error().ToString();
  auto other = fenced->Create(testing::InProgressDeployment("d2", "ads"), {});
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code(), ErrorCode::kFailedPrecondition) << other.error().ToString();

  auto stored = b_->Get("d1");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->version, 1);
  EXPECT_EQ(stored->canary_weight, created->canary_weight);
  EXPECT_EQ(b_->ListEvents("d1", 0)->size(), 1u);
  EXPECT_EQ(b_->Get("d2").error().code(), ErrorCode::kNotFound);
  auto endpoints = b_->ListEndpoints();
  ASSERT_TRUE(endpoints);
  ASSERT_EQ(endpoints->size(), 1u);
  EXPECT_EQ((*endpoints)[0], MakeEndpoint("recs", 0.1));

  // Reads through the stale view still work.
  EXPECT_TRUE(fenced->Get("d1"));
  EXPECT_TRUE(fenced->ListEvents("d1", 0));
  // The new leader writes under its number; writes without a fence (the
  // control API's on any replica) are not affected.
  auto by_b = b_->Fenced(second)->Update(*stored, {testing::WeightChangeEvent("b's step")});
  ASSERT_TRUE(by_b) << by_b.error().ToString();
  auto unfenced = a_->Update(*by_b, {testing::WeightChangeEvent("control API")});
  ASSERT_TRUE(unfenced) << unfenced.error().ToString();
  EXPECT_TRUE(a_->SaveEndpoint(MakeEndpoint("recs", 0.2)));
  EXPECT_EQ(b_->ListEvents("d1", 0)->size(), 3u);
}

TEST_F(PostgresCoordinationTest, AFencedWriteIsRefusedAfterReleaseOrWithoutALease) {
  auto never = a_->Fenced(1)->SaveEndpoint(MakeEndpoint("recs", 0.1));
  ASSERT_FALSE(never);
  EXPECT_EQ(never.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(never.error().message().find("no controller lease was ever granted"), std::string::npos)
      << never.error().message();

  auto lease = a_->Lease();
  const std::int64_t fencing = Granted(lease->TryAcquire("a", 60s));
  auto fenced = a_->Fenced(fencing);
  ASSERT_TRUE(fenced->SaveEndpoint(MakeEndpoint("recs", 0.1)));
  ASSERT_TRUE(lease->Release("a", fencing));
  auto released = fenced->SaveEndpoint(MakeEndpoint("recs", 0.3));
  ASSERT_FALSE(released);
  EXPECT_EQ(released.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(
      released.error().message().find("(fencing " + std::to_string(fencing) + ") was released"),
      std::string::npos)
      << released.error().message();
  EXPECT_EQ((*a_->ListEndpoints())[0], MakeEndpoint("recs", 0.1));
}

// --- the change feed ---

TEST_F(PostgresCoordinationTest, AnotherReplicasCommitWakesTheFeed) {
  auto feed = Feed(*a_);
  ASSERT_NE(feed, nullptr);
  // Waiting when the commit comes.
  std::thread writer([&] {
    std::this_thread::sleep_for(200ms);
    EXPECT_TRUE(b_->SaveEndpoint(MakeEndpoint("recs", 0.1)));
  });
  auto woke = feed->WaitForChange(30s);
  writer.join();
  ASSERT_TRUE(woke) << woke.error().ToString();
  EXPECT_TRUE(*woke);
  // Committed between two waits: the next wait answers at once.
  ASSERT_TRUE(b_->Create(testing::InProgressDeployment("d1", "recs"), {}));
  EXPECT_TRUE(*feed->WaitForChange(5s));
  auto d1 = b_->Get("d1");
  ASSERT_TRUE(d1);
  ASSERT_TRUE(b_->Update(*d1, {}));
  EXPECT_TRUE(*feed->WaitForChange(5s));
  // Nothing since: the timeout passes.
  auto quiet = feed->WaitForChange(200ms);
  ASSERT_TRUE(quiet) << quiet.error().ToString();
  EXPECT_FALSE(*quiet);
}

TEST_F(PostgresCoordinationTest, ABurstOfCommitsWakesTheFeedOnce) {
  auto feed = Feed(*a_);
  ASSERT_NE(feed, nullptr);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(b_->SaveEndpoint(MakeEndpoint("recs", 0.1 * i)));
  std::this_thread::sleep_for(500ms);  // all five delivered to the feed's connection
  EXPECT_TRUE(*feed->WaitForChange(5s));
  EXPECT_FALSE(*feed->WaitForChange(200ms));
}

TEST_F(PostgresCoordinationTest, WritesThatDidNotCommitDoNotWakeTheFeed) {
  ASSERT_TRUE(b_->Create(testing::InProgressDeployment("d1", "recs"), {}));
  auto d1 = b_->Get("d1");
  ASSERT_TRUE(d1);
  auto lease = b_->Lease();
  const std::int64_t fencing = Granted(lease->TryAcquire("b", 60s));
  ASSERT_TRUE(lease->Release("b", fencing));
  auto feed = Feed(*a_);
  ASSERT_NE(feed, nullptr);

  // A refused fenced write, a stale version, a second active deployment.
  EXPECT_FALSE(b_->Fenced(fencing)->SaveEndpoint(MakeEndpoint("recs", 0.1)));
  core::Deployment stale = *d1;
  stale.version = 7;
  EXPECT_EQ(b_->Update(stale, {}).error().code(), ErrorCode::kConflict);
  EXPECT_EQ(b_->Create(testing::InProgressDeployment("d2", "recs"), {}).error().code(),
            ErrorCode::kConflict);
  auto woke = feed->WaitForChange(500ms);
  ASSERT_TRUE(woke) << woke.error().ToString();
  EXPECT_FALSE(*woke);
}

TEST_F(PostgresCoordinationTest, InterruptEndsAWaitAtOnce) {
  auto feed = Feed(*a_);
  ASSERT_NE(feed, nullptr);
  const auto start = Steady::now();
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    feed->Interrupt();
  });
  auto woke = feed->WaitForChange(60s);
  stopper.join();
  ASSERT_TRUE(woke) << woke.error().ToString();
  EXPECT_FALSE(*woke);
  EXPECT_LT(Steady::now() - start, 30s) << "the wait ran to its timeout";

  // An Interrupt before the wait ends the next one; the one after waits again.
  feed->Interrupt();
  EXPECT_FALSE(*feed->WaitForChange(60s));
  const auto waited = Steady::now();
  EXPECT_FALSE(*feed->WaitForChange(300ms));
  EXPECT_GE(Steady::now() - waited, 300ms);
  // Still listening.
  ASSERT_TRUE(b_->SaveEndpoint(MakeEndpoint("recs", 0.1)));
  EXPECT_TRUE(*feed->WaitForChange(5s));
}

// The server restarts: the feed answers an error (kUnavailable, naming the
// server), the lease too; once the server is back, the feed reconnects and
// says "changed" (what was committed meanwhile was not heard), then wakes on
// commits as before; the lease's holder renews with its number.
TEST_F(PostgresCoordinationTest, AServerRestartIsAnErrorThenTheFeedWorksAgain) {
  auto feed = Feed(*a_);
  ASSERT_NE(feed, nullptr);
  auto lease = a_->Lease();
  const std::int64_t fencing = Granted(lease->TryAcquire("a", 60s));

  ASSERT_TRUE(server_->Stop());
  auto broken = feed->WaitForChange(10s);
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code(), ErrorCode::kUnavailable) << broken.error().ToString();
  const std::string& message = broken.error().message();
  EXPECT_NE(message.find("change feed: "), std::string::npos) << message;
  EXPECT_NE(message.find("127.0.0.1:" + std::to_string(server_->port())), std::string::npos)
      << message;
  EXPECT_EQ(message.find(PostgresServer::kPassword), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  // Still down: the reconnection fails too, at once.
  auto down = feed->WaitForChange(10s);
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code(), ErrorCode::kUnavailable) << down.error().ToString();
  auto renewal = lease->TryAcquire("a", 60s);
  ASSERT_FALSE(renewal);
  EXPECT_EQ(renewal.error().code(), ErrorCode::kUnavailable) << renewal.error().ToString();

  ASSERT_TRUE(server_->Restart());
  auto back = feed->WaitForChange(10s);
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_TRUE(*back) << "changes while disconnected were not heard: read again";
  EXPECT_FALSE(*feed->WaitForChange(200ms));
  ASSERT_TRUE(b_->SaveEndpoint(MakeEndpoint("recs", 0.1)));
  EXPECT_TRUE(*feed->WaitForChange(5s));
  EXPECT_EQ(Granted(lease->TryAcquire("a", 60s)), fencing);
}

// --- the elector of fleet/ on this lease ---

// The real lease, whose calls can be held up as a paused process would be
// (SIGSTOP, a long GC): a call made while paused returns once resumed.
class PausableLease final : public core::LeaderLease {
 public:
  explicit PausableLease(std::unique_ptr<core::LeaderLease> lease) : lease_(std::move(lease)) {}
  core::Result<std::optional<core::LeaseGrant>> TryAcquire(std::string_view holder,
                                                           core::Duration ttl) override {
    WhilePaused();
    return lease_->TryAcquire(holder, ttl);
  }
  core::Status Release(std::string_view holder, std::int64_t fencing) override {
    WhilePaused();
    return lease_->Release(holder, fencing);
  }
  core::Result<core::LeaseHolder> Current() override { return lease_->Current(); }
  void Pause(bool paused) {
    {
      std::lock_guard lock(mu_);
      paused_ = paused;
    }
    cv_.notify_all();
  }

 private:
  void WhilePaused() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !paused_; });
  }
  std::unique_ptr<core::LeaderLease> lease_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool paused_ = false;
};

bool Eventually(const std::function<bool()>& done, core::Duration within = 15s) {
  const auto until = Steady::now() + within;
  while (!done()) {
    if (Steady::now() > until) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

TEST_F(PostgresCoordinationTest, TwoElectorsOneLeaderAndAPausedLeaderIsFencedOut) {
  PausableLease la(a_->Lease()), lb(b_->Lease());
  std::mutex mu;
  std::unique_ptr<core::DeploymentStore> a_writes, b_writes;  // each one's fenced view
  auto options = [](std::string holder) {
    return fleet::ElectorOptions{
        .holder = std::move(holder), .ttl = 1s, .renew_every = 200ms, .retry_every = 100ms};
  };
  auto on_elected = [&](std::unique_ptr<core::DeploymentStore>& view, PostgresDeploymentStore& s) {
    return [&](std::int64_t fencing) {
      std::lock_guard lock(mu);
      view = s.Fenced(fencing);
    };
  };
  fleet::LeaderElector ea(la, options("a"), on_elected(a_writes, *a_), nullptr);
  fleet::LeaderElector eb(lb, options("b"), on_elected(b_writes, *b_), nullptr);
  // Declared after the electors, so destroyed first: a failed assertion while
  // a is paused must not leave its elector's Stop waiting forever.
  struct Resume {
    PausableLease& lease;
    ~Resume() { lease.Pause(false); }
  } resume{la};
  ea.Start();
  ASSERT_TRUE(Eventually([&] { return ea.leading(); }));
  eb.Start();
  std::this_thread::sleep_for(1500ms);  // past a lease time: a keeps renewing
  EXPECT_TRUE(ea.leading());
  EXPECT_FALSE(eb.leading());
  const std::int64_t first = ea.fencing();
  {
    std::lock_guard lock(mu);
    ASSERT_TRUE(a_writes->SaveEndpoint(MakeEndpoint("recs", 0.1)));
  }

  // a is paused mid-renewal: b takes over once a's lease ran out.
  la.Pause(true);
  ASSERT_TRUE(Eventually([&] { return eb.leading(); }));
  EXPECT_GT(eb.fencing(), first);
  {
    std::lock_guard lock(mu);
    // a's controller, still believing it leads, writes late: refused.
    auto late = a_writes->SaveEndpoint(MakeEndpoint("recs", 0.9));
    ASSERT_FALSE(late);
    EXPECT_EQ(late.error().code(), ErrorCode::kFailedPrecondition);
    ASSERT_TRUE(b_writes->SaveEndpoint(MakeEndpoint("recs", 0.2)));
  }
  // a resumes: its renewal is refused and it steps down.
  la.Pause(false);
  ASSERT_TRUE(Eventually([&] { return !ea.leading(); }));
  EXPECT_EQ((*b_->ListEndpoints())[0], MakeEndpoint("recs", 0.2));

  // b stops cleanly (releasing the lease): a takes over with a new number.
  const std::int64_t second = eb.fencing();
  eb.Stop();
  ASSERT_TRUE(Eventually([&] { return ea.leading(); }));
  EXPECT_GT(ea.fencing(), second);
  ea.Stop();
  EXPECT_EQ(la.Current()->holder, "");
}

}  // namespace
}  // namespace mlcanary::store
