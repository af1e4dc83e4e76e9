// Webhooks in fleet mode, on a real PostgreSQL server: two replicas, each with
// its own connection, its LeaderElector on the store's lease and a
// WebhookNotifier on the store's outbox that delivers only while its replica
// leads (WebhookOptions::active), as `serve` wires them. Each event reaches
// the receiver once while leadership moves between them; an event in flight
// when the lease changes hands may be sent by both (at least once).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "fleet/leader_elector.h"
#include "http/testing/receiver.h"
#include "notify/webhook_notifier.h"
#include "store/postgres_deployment_store.h"
#include "store/testing/postgres_server.h"
#include "store/testing/sample_records.h"

namespace mlcanary::fleet {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

template <typename Pred>
bool Eventually(Pred pred) {
  const auto deadline = Steady::now() + 30s;
  while (Steady::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

// One replica: its store connection, its elector and its webhooks, which
// deliver while the elector leads.
class Replica {
 public:
  Replica(const std::string& url, const std::string& holder, const std::string& hook) {
    auto opened = store::PostgresDeploymentStore::Open(url);
    EXPECT_TRUE(opened) << opened.error().ToString();
    if (!opened) return;
    store_ = std::move(*opened);
    lease_ = store_->Lease();
    elector_ = std::make_unique<LeaderElector>(
        *lease_, ElectorOptions{.holder = holder, .ttl = 3s, .retry_every = 50ms},
        [this](std::int64_t) {
          if (auto* w = webhooks_.load()) w->Wake();
        },
        [](std::string_view) {});
    notify::WebhookOptions o;
    o.urls = {hook};
    o.backoff_base = 1ms;
    o.backoff_cap = 5ms;
    o.outbox = store_.get();
    o.outbox_poll = 2s;  // a wake-up comes with the lease or a Notify
    o.active = [this] { return elector_->leading(); };
    auto created = notify::WebhookNotifier::Create(o);
    EXPECT_TRUE(created) << created.error().ToString();
    if (created) owned_ = std::move(*created);
    webhooks_ = owned_.get();
  }
  ~Replica() {
    if (elector_) elector_->Stop();
    webhooks_ = nullptr;
    owned_.reset();
  }

  bool ok() const { return owned_ != nullptr; }
  void Lead() { elector_->Start(); }
  void Resign() { elector_->Stop(); }
  bool leading() const { return elector_->leading(); }
  std::uint64_t delivered() const { return owned_->counters().delivered; }
  // What the controller does after a write: wake the notifiers.
  void Notify() { owned_->Notify(core::Deployment{}, core::DeploymentEvent{}); }
  store::PostgresDeploymentStore& store() { return *store_; }

 private:
  std::unique_ptr<store::PostgresDeploymentStore> store_;
  std::unique_ptr<core::LeaderLease> lease_;
  std::unique_ptr<LeaderElector> elector_;
  std::unique_ptr<notify::WebhookNotifier> owned_;
  std::atomic<notify::WebhookNotifier*> webhooks_{nullptr};
};

class LeaderWebhooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = store::testing::PostgresServer::Start();
    ASSERT_TRUE(server) << server.error().ToString();
    server_ = std::move(*server);
    a_ = std::make_unique<Replica>(server_->Url("postgres"), "a:1", receiver_.url());
    b_ = std::make_unique<Replica>(server_->Url("postgres"), "b:1", receiver_.url());
    ASSERT_TRUE(a_->ok() && b_->ok());
    ASSERT_TRUE(a_->store().Create(store::testing::InProgressDeployment("d1", "recs"), {}));
  }

  // Appends `n` announced events to d1 and wakes both replicas' webhooks.
  void Write(int n) {
    for (int i = 0; i < n; ++i) {
      auto d = a_->store().Get("d1");
      ASSERT_TRUE(d) << d.error().ToString();
      ASSERT_TRUE(a_->store().Update(*d, {store::testing::WeightChangeEvent("step")}));
      written_ += 1;
    }
    a_->Notify();
    b_->Notify();
  }

  // How many times each event (by seq) reached the receiver.
  std::map<std::int64_t, int> Received() const {
    std::map<std::int64_t, int> seen;
    for (const auto& r : receiver_.requests()) {
      const auto body = boost::json::parse(r.at("body").as_string()).as_object();
      EXPECT_EQ(body.at("deployment_id").as_string(), "d1");
      seen[body.at("seq").as_int64()] += 1;
    }
    return seen;
  }

  // Every event written so far has been delivered and its cursor saved.
  bool AllDelivered() {
    auto cursor = a_->store().Cursor(notify::WebhookSinkName(receiver_.url()));
    if (!cursor) return false;
    auto rest = a_->store().ReadOutbox(*cursor, 1);
    return rest && rest->empty() && static_cast<int>(Received().size()) == written_;
  }

  http::testing::Receiver receiver_;
  std::unique_ptr<store::testing::PostgresServer> server_;
  std::unique_ptr<Replica> a_, b_;
  int written_ = 0;
};

TEST_F(LeaderWebhooksTest, OnlyTheLeaderDeliversAndTheNextOneGoesOnFromTheStoredCursor) {
  a_->Lead();
  ASSERT_TRUE(Eventually([&] { return a_->leading(); }));
  b_->Lead();  // tries the lease, in vain while a holds it
  Write(4);
  ASSERT_TRUE(Eventually([&] { return AllDelivered(); }));
  EXPECT_EQ(a_->delivered(), 4u);
  EXPECT_EQ(b_->delivered(), 0u) << "a replica that does not lead delivered";

  // a hands over (a clean stop releases the lease): b resumes after a's cursor.
  a_->Resign();
  ASSERT_TRUE(Eventually([&] { return b_->leading(); }));
  Write(3);
  ASSERT_TRUE(Eventually([&] { return AllDelivered(); }));
  EXPECT_EQ(a_->delivered(), 4u);
  EXPECT_EQ(b_->delivered(), 3u);
  for (const auto& [seq, times] : Received()) EXPECT_EQ(times, 1) << "event " << seq;
}

// The lease moves while events are being delivered: every event arrives, and
// no more than the one in flight at the handover arrives twice.
TEST_F(LeaderWebhooksTest, EveryEventArrivesAtLeastOnceWhenTheLeaseMovesMidDelivery) {
  a_->Lead();
  ASSERT_TRUE(Eventually([&] { return a_->leading(); }));
  b_->Lead();
  Write(20);
  ASSERT_TRUE(Eventually([&] { return a_->delivered() >= 1; }));
  a_->Resign();
  ASSERT_TRUE(Eventually([&] { return b_->leading(); }));
  Write(5);
  ASSERT_TRUE(Eventually([&] { return AllDelivered(); }));
  int duplicates = 0;
  for (const auto& [seq, times] : Received()) duplicates += times - 1;
  EXPECT_LE(duplicates, 1);
  EXPECT_GT(b_->delivered(), 0u);
  EXPECT_EQ(static_cast<int>(a_->delivered() + b_->delivered()), written_ + duplicates);
}

}  // namespace
}  // namespace mlcanary::fleet
