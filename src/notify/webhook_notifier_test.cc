#include "notify/webhook_notifier.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <limits>
#include <mutex>
#include <thread>

#include "codec/domain_json.h"
#include "codec/testing/sample_event.h"
#include "core/backoff.h"
#include "http/testing/receiver.h"
#include "store/sqlite_deployment_store.h"
#include "store/testing/temp_dir.h"

namespace mlcanary::notify {
namespace {

using http::testing::Receiver;
using http::testing::ReceiverOptions;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using codec::testing::SampleDeployment;
using codec::testing::SampleEvent;

// Log lines, collected from the delivery threads.
class LogLines {
 public:
  std::function<void(std::string_view)> sink() {
    return [this](std::string_view line) {
      std::lock_guard lock(mu_);
      lines_.emplace_back(line);
    };
  }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

WebhookOptions FastOptions(std::vector<std::string> urls) {
  WebhookOptions o;
  o.urls = std::move(urls);
  o.backoff_base = 1ms;
  o.backoff_cap = 5ms;
  o.timeout = 2s;
  o.max_attempts = 3;
  o.random_bits = [] { return std::uint64_t{3}; };
  return o;
}

template <typename Pred>
bool Eventually(Pred pred) {
  const auto deadline = Clock::now() + 15s;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

std::unique_ptr<WebhookNotifier> MustCreate(WebhookOptions o) {
  auto created = WebhookNotifier::Create(std::move(o));
  EXPECT_TRUE(created) << created.error().ToString();
  return created ? std::move(*created) : nullptr;
}

// A port nothing listens on: a receiver's, once it is gone.
int DeadPort() {
  Receiver gone;
  return gone.port();
}

TEST(BackoffTest, DelayIsWithinFullJitterOfTheCappedExponentialCeiling) {
  const core::Duration base = 200ms, cap = 10s;
  const std::uint64_t bits[] = {0,   1,     199,        200,
                                201, 12345, 1ULL << 40, std::numeric_limits<std::uint64_t>::max()};
  for (int attempt = 1; attempt <= 64; ++attempt) {
    const core::Duration ceiling =
        attempt <= 6 ? std::min<core::Duration>(base * (1 << (attempt - 1)), cap) : cap;
    for (std::uint64_t b : bits) {
      const core::Duration d = core::BackoffDelay(attempt, base, cap, b);
      EXPECT_GE(d, 0ms) << attempt;
      EXPECT_LE(d, ceiling) << attempt;
    }
    // Full jitter spans the whole range: 0 and the ceiling itself are reachable.
    EXPECT_EQ(core::BackoffDelay(attempt, base, cap, 0), 0ms);
    EXPECT_EQ(core::BackoffDelay(attempt, base, cap, static_cast<std::uint64_t>(ceiling.count())),
              ceiling);
  }
}

TEST(BackoffTest, NoDelayForNonsenseArguments) {
  EXPECT_EQ(core::BackoffDelay(0, 200ms, 10s, 99), 0ms);
  EXPECT_EQ(core::BackoffDelay(3, 0ms, 10s, 99), 0ms);
  EXPECT_EQ(core::BackoffDelay(3, 200ms, 0ms, 99), 0ms);
}

// Issue 15: hook calls are stored events, never announced (nor are checks and errors).
TEST(WebhookAnnouncesTest, TransitionsAndStepsOnlyNotChecksErrorsOrHookCalls) {
  core::DeploymentEvent e;
  for (const auto kind :
       {core::EventKind::kCheck, core::EventKind::kError, core::EventKind::kHook}) {
    e.kind = kind;
    EXPECT_FALSE(WebhookAnnounces(e)) << core::EventKindName(kind);
  }
  for (const auto kind : {core::EventKind::kTransition, core::EventKind::kWeightChange,
                          core::EventKind::kPaused, core::EventKind::kGate}) {
    e.kind = kind;
    EXPECT_TRUE(WebhookAnnounces(e)) << core::EventKindName(kind);
  }
}

TEST(WebhookRetryTest, RetriesNoAnswer5xxAnd429Only) {
  EXPECT_TRUE(ShouldRetry(0));
  EXPECT_TRUE(ShouldRetry(500));
  EXPECT_TRUE(ShouldRetry(503));
  EXPECT_TRUE(ShouldRetry(429));
  EXPECT_FALSE(ShouldRetry(400));
  EXPECT_FALSE(ShouldRetry(404));
  EXPECT_FALSE(ShouldRetry(410));
  EXPECT_FALSE(ShouldRetry(200));
}

TEST(RedactUrlTest, KeepsSchemeAndHostOnly) {
  EXPECT_EQ(RedactUrl("http://hooks.example:9000/T0/B1/secret?token=x"),
            "http://hooks.example:9000/...");
  EXPECT_EQ(RedactUrl("http://user:pass@hooks.example/x"), "http://hooks.example/...");
  EXPECT_EQ(RedactUrl("http://127.0.0.1:9000"), "http://127.0.0.1:9000");
  EXPECT_EQ(RedactUrl("http://127.0.0.1:9000/"), "http://127.0.0.1:9000");
}

TEST(WebhookNotifierTest, RefusesHttpsAndOtherNonHttpUrlsWithoutEchoingTheirPath) {
  auto https = WebhookNotifier::Create(FastOptions({"https://hooks.example/secret-path"}));
  ASSERT_FALSE(https);
  EXPECT_EQ(https.error().code(), core::ErrorCode::kValidation);
  EXPECT_NE(https.error().message().find("https is not supported"), std::string::npos);
  EXPECT_EQ(https.error().message().find("secret-path"), std::string::npos);
  EXPECT_FALSE(WebhookNotifier::Create(FastOptions({"ftp://hooks.example/x"})));
  EXPECT_FALSE(WebhookNotifier::Create(FastOptions({"http:///nohost"})));
  EXPECT_FALSE(WebhookNotifier::Create(FastOptions({"hooks.example"})));
  EXPECT_FALSE(WebhookNotifier::Create(FastOptions({})));
  WebhookOptions zero = FastOptions({"http://127.0.0.1:9/x"});
  zero.max_attempts = 0;
  EXPECT_FALSE(WebhookNotifier::Create(zero));
  EXPECT_TRUE(WebhookNotifier::Create(FastOptions({"HTTP://127.0.0.1:9/x"})));
}

TEST(WebhookNotifierTest, PostsTheJsonPayloadToEveryUrl) {
  Receiver a, b;
  ASSERT_GT(a.port(), 0);
  ASSERT_GT(b.port(), 0);
  auto hook = MustCreate(FastOptions({a.url(), b.url()}));
  ASSERT_TRUE(hook);
  hook->Notify(SampleDeployment(), SampleEvent(true));
  ASSERT_TRUE(Eventually([&] { return hook->counters().delivered == 2; }));
  for (const Receiver* r : {&a, &b}) {
    auto requests = r->requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].at("path").as_string(), "/hook");
    EXPECT_EQ(requests[0].at("content_type").as_string(), "application/json");
    // The body is the notification codec writes, to the byte: no copy of its own.
    EXPECT_EQ(requests[0].at("body").as_string(),
              codec::NotificationJson(SampleDeployment(), SampleEvent(true)));
    auto body = boost::json::parse(requests[0].at("body").as_string()).as_object();
    EXPECT_EQ(body.at("deployment").as_object().at("id").as_string(), "dep-42");
    EXPECT_EQ(body.at("to_state").as_string(), "ROLLING_BACK");
  }
  const WebhookCounters c = hook->counters();
  EXPECT_EQ(c.retried, 0u);
  EXPECT_EQ(c.failed, 0u);
  EXPECT_EQ(c.dropped, 0u);
  EXPECT_EQ(c.queued, 0u);
}

TEST(WebhookNotifierTest, DeliversEventsToAUrlInTheOrderNotified) {
  Receiver receiver;
  auto hook = MustCreate(FastOptions({receiver.url()}));
  ASSERT_TRUE(hook);
  for (int seq = 1; seq <= 20; ++seq) hook->Notify(SampleDeployment(), SampleEvent(false, seq));
  ASSERT_TRUE(Eventually([&] { return hook->counters().delivered == 20; }));
  auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    auto body = boost::json::parse(requests[i].at("body").as_string()).as_object();
    EXPECT_EQ(body.at("event").as_object().at("seq").as_int64(), i + 1);
  }
}

TEST(WebhookNotifierTest, RetriesAfter500ThenDelivers) {
  Receiver receiver({.fail_first = 2});
  auto hook = MustCreate(FastOptions({receiver.url()}));
  ASSERT_TRUE(hook);
  hook->Notify(SampleDeployment(), SampleEvent(false));
  ASSERT_TRUE(Eventually([&] { return hook->counters().delivered == 1; }));
  EXPECT_EQ(hook->counters().retried, 2u);
  EXPECT_EQ(hook->counters().failed, 0u);
  EXPECT_EQ(receiver.requests().size(), 3u);
}

TEST(WebhookNotifierTest, RetriesAfter429ThenDelivers) {
  Receiver receiver({.fail_first = 1, .fail_status = 429});
  auto hook = MustCreate(FastOptions({receiver.url()}));
  ASSERT_TRUE(hook);
  hook->Notify(SampleDeployment(), SampleEvent(false));
  ASSERT_TRUE(Eventually([&] { return hook->counters().delivered == 1; }));
  EXPECT_EQ(hook->counters().retried, 1u);
}

TEST(WebhookNotifierTest, RetriesAfterATimeoutThenDelivers) {
  Receiver receiver({.delay_s = 3, .delay_first = 1});
  WebhookOptions o = FastOptions({receiver.url()});
  o.timeout = 300ms;
  auto hook = MustCreate(o);
  ASSERT_TRUE(hook);
  hook->Notify(SampleDeployment(), SampleEvent(false));
  ASSERT_TRUE(Eventually([&] { return hook->counters().delivered == 1; }));
  EXPECT_EQ(hook->counters().retried, 1u);
  EXPECT_EQ(receiver.requests().size(), 2u);
}

TEST(WebhookNotifierTest, GivesUpAfterMaxAttemptsCountsFailedAndLogsWithoutThePath) {
  Receiver receiver({.status = 503});
  LogLines logs;
  WebhookOptions o = FastOptions({receiver.url()});
  o.log = logs.sink();
  auto hook = MustCreate(o);
  ASSERT_TRUE(hook);
  hook->Notify(SampleDeployment(), SampleEvent(false));
  ASSERT_TRUE(Eventually([&] { return hook->counters().failed == 1; }));
  EXPECT_EQ(hook->counters().retried, 2u);
  EXPECT_EQ(hook->counters().delivered, 0u);
  EXPECT_EQ(receiver.requests().size(), 3u);
  ASSERT_TRUE(Eventually([&] { return logs.lines().size() == 1; }));
  const std::string line = logs.lines()[0];
  auto log = boost::json::parse(line).as_object();
  EXPECT_EQ(log.at("level").as_string(), "warn");
  EXPECT_EQ(log.at("msg").as_string(), "webhook delivery failed");
  EXPECT_EQ(log.at("webhook").as_string(),
            "http://127.0.0.1:" + std::to_string(receiver.port()) + "/...");
  EXPECT_EQ(log.at("deployment").as_string(), "dep-42");
  EXPECT_EQ(log.at("attempts").as_int64(), 3);
  EXPECT_EQ(log.at("error").as_string(), "HTTP 503");
  EXPECT_EQ(line.find("/hook"), std::string::npos);
}

TEST(WebhookNotifierTest, ClientErrorIsNotRetried) {
  Receiver receiver({.status = 400});
  auto hook = MustCreate(FastOptions({receiver.url()}));
  ASSERT_TRUE(hook);
  hook->Notify(SampleDeployment(), SampleEvent(false));
  ASSERT_TRUE(Eventually([&] { return hook->counters().failed == 1; }));
  EXPECT_EQ(hook->counters().retried, 0u);
  EXPECT_EQ(receiver.requests().size(), 1u);
}

TEST(WebhookNotifierTest, UnreachableWebhookIsCountedAsFailedAndLogged) {
  LogLines logs;
  WebhookOptions o = FastOptions({"http://127.0.0.1:" + std::to_string(DeadPort()) + "/hook"});
  o.log = logs.sink();
  auto hook = MustCreate(o);
  ASSERT_TRUE(hook);
  const auto start = Clock::now();
  hook->Notify(SampleDeployment(), SampleEvent(false));
  EXPECT_LT(Clock::now() - start, 5s);  // connecting (3 tries) is the delivery thread's business
  ASSERT_TRUE(Eventually([&] { return hook->counters().failed == 1; }));
  EXPECT_EQ(hook->counters().retried, 2u);
  ASSERT_TRUE(Eventually([&] { return logs.lines().size() == 1; }));
  EXPECT_NE(logs.lines()[0].find("webhook delivery failed"), std::string::npos);
}

TEST(WebhookNotifierTest, NotifyReturnsWellUnderAMillisecondWhileTheWebhookHangs) {
  Receiver receiver({.delay_s = 30});
  WebhookOptions o = FastOptions({receiver.url()});
  o.timeout = 20s;
  o.drain_timeout = 200ms;
  auto hook = MustCreate(o);
  ASSERT_TRUE(hook);
  hook->Notify(SampleDeployment(), SampleEvent(true));
  ASSERT_TRUE(Eventually([&] { return receiver.requests().size() == 1; }));  // now hanging
  std::vector<Clock::duration> took;
  for (int i = 0; i < 200; ++i) {
    const auto start = Clock::now();
    hook->Notify(SampleDeployment(), SampleEvent(true, i));
    took.push_back(Clock::now() - start);
  }
  std::sort(took.begin(), took.end());
  const auto median = took[took.size() / 2];
  RecordProperty(
      "median_notify_us",
      static_cast<int>(std::chrono::duration_cast<std::chrono::microseconds>(median).count()));
  EXPECT_LT(median, 1ms);
  EXPECT_LT(took.back(), 5s);  // even the slowest (a descheduled thread) is nowhere near 30 s
  EXPECT_EQ(hook->counters().delivered, 0u);
}

TEST(WebhookNotifierTest, DeadWebhookDoesNotDelayTheOthers) {
  Receiver hanging({.delay_s = 30});
  Receiver healthy;
  WebhookOptions o = FastOptions({hanging.url(), healthy.url()});
  o.timeout = 20s;
  o.drain_timeout = 200ms;
  auto hook = MustCreate(o);
  ASSERT_TRUE(hook);
  for (int seq = 1; seq <= 3; ++seq) hook->Notify(SampleDeployment(), SampleEvent(false, seq));
  // The receiver records a request before the notifier has read its answer,
  // so wait for the count rather than read it once.
  ASSERT_TRUE(Eventually([&] { return healthy.requests().size() == 3; }));
  EXPECT_TRUE(Eventually([&] { return hook->counters().delivered == 3u; }))
      << hook->counters().delivered;
  // The hanging receiver holds the first delivery (on a loaded machine it may
  // only now have read it), and nothing after it was sent there.
  EXPECT_TRUE(Eventually([&] { return hanging.requests().size() == 1u; }))
      << hanging.requests().size();
}

TEST(WebhookNotifierTest, FullQueueDropsTheOldestWaitingDeliveryAndCountsIt) {
  Receiver receiver({.delay_s = 1, .delay_first = 1});
  LogLines logs;
  WebhookOptions o = FastOptions({receiver.url()});
  o.queue_capacity = 2;
  o.log = logs.sink();
  auto hook = MustCreate(o);
  ASSERT_TRUE(hook);
  hook->Notify(SampleDeployment(), SampleEvent(false, 1));
  ASSERT_TRUE(Eventually([&] { return receiver.requests().size() == 1; }));  // 1 in flight
  for (int seq = 2; seq <= 6; ++seq) hook->Notify(SampleDeployment(), SampleEvent(false, seq));
  EXPECT_EQ(hook->counters().dropped, 3u);  // 2, 3 and 4 made room for 5 and 6
  EXPECT_EQ(hook->counters().queued, 2u);
  ASSERT_TRUE(Eventually([&] { return hook->counters().delivered == 3; }));
  std::vector<std::int64_t> seqs;
  for (const auto& r : receiver.requests()) {
    seqs.push_back(boost::json::parse(r.at("body").as_string())
                       .as_object()
                       .at("event")
                       .as_object()
                       .at("seq")
                       .as_int64());
  }
  EXPECT_EQ(seqs, (std::vector<std::int64_t>{1, 5, 6}));
  // The first drop and the second are logged (then the 4th, 8th, ...).
  const auto lines = logs.lines();
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(),
                          [](const std::string& l) {
                            return l.find("webhook queue full") != std::string::npos;
                          }),
            2);
}

TEST(WebhookNotifierTest, StopDeliversWhatIsQueued) {
  Receiver receiver;
  auto hook = MustCreate(FastOptions({receiver.url()}));
  ASSERT_TRUE(hook);
  for (int seq = 1; seq <= 20; ++seq) hook->Notify(SampleDeployment(), SampleEvent(false, seq));
  hook->Stop();
  EXPECT_EQ(hook->counters().delivered, 20u);
  EXPECT_EQ(receiver.requests().size(), 20u);
}

TEST(WebhookNotifierTest, StopIsBoundedByTheDrainTimeoutWhenTheWebhookHangs) {
  Receiver receiver({.delay_s = 30});
  LogLines logs;
  WebhookOptions o = FastOptions({receiver.url()});
  o.timeout = 20s;
  o.drain_timeout = 300ms;
  o.log = logs.sink();
  auto hook = MustCreate(o);
  ASSERT_TRUE(hook);
  for (int seq = 1; seq <= 3; ++seq) hook->Notify(SampleDeployment(), SampleEvent(false, seq));
  ASSERT_TRUE(Eventually([&] { return receiver.requests().size() == 1; }));
  const auto start = Clock::now();
  hook->Stop();
  EXPECT_LT(Clock::now() - start, 5s);  // not the 20 s attempt timeout, nor the 30 s hang
  const WebhookCounters c = hook->counters();
  EXPECT_EQ(c.failed, 1u);   // the request in flight, cut off
  EXPECT_EQ(c.dropped, 2u);  // never attempted
  EXPECT_EQ(c.queued, 0u);
  const auto lines = logs.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("aborted at shutdown"), std::string::npos);
  EXPECT_NE(lines[1].find("dropped at shutdown"), std::string::npos);
}

TEST(WebhookNotifierTest, StopDuringBackoffDoesNotWaitItOut) {
  Receiver receiver({.status = 500});
  WebhookOptions o = FastOptions({receiver.url()});
  o.backoff_base = 30s;
  o.backoff_cap = 30s;
  o.random_bits = [] { return std::uint64_t{30000}; };  // the full 30 s
  o.drain_timeout = 200ms;
  auto hook = MustCreate(o);
  ASSERT_TRUE(hook);
  hook->Notify(SampleDeployment(), SampleEvent(false));
  ASSERT_TRUE(Eventually([&] { return receiver.requests().size() == 1; }));
  const auto start = Clock::now();
  hook->Stop();
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(hook->counters().failed, 1u);
}

TEST(WebhookNotifierTest, NotifyAfterStopIsDroppedAndCounted) {
  auto hook = MustCreate(FastOptions({"http://127.0.0.1:" + std::to_string(DeadPort()) + "/x"}));
  ASSERT_TRUE(hook);
  hook->Stop();
  hook->Stop();  // idempotent
  hook->Notify(SampleDeployment(), SampleEvent(false));
  EXPECT_EQ(hook->counters().dropped, 1u);
}

// --- Deliveries from the store's outbox (at least once) ---

// A real SQLite store in a temporary directory, and helpers to write what the
// controller writes: a deployment and its events.
class OutboxWebhookTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    store_.reset();
    auto opened = store::SqliteDeploymentStore::Open(dir_.File("mlcanary.db"));
    ASSERT_TRUE(opened) << opened.error().ToString();
    store_ = std::move(*opened);
  }

  WebhookOptions Options(std::vector<std::string> urls) {
    WebhookOptions o = FastOptions(std::move(urls));
    o.outbox = store_.get();
    o.outbox_poll = 50ms;
    return o;
  }

  // Appends an event of `kind` to deployment dep-42 (created on first use).
  void Write(core::EventKind kind) {
    core::DeploymentEvent e = SampleEvent(false);
    e.kind = kind;
    e.reason = std::string(core::EventKindName(kind));
    auto d = store_->Get("dep-42");
    if (!d) {
      core::Deployment fresh = SampleDeployment();
      fresh.state = core::DeploymentState::kInProgress;
      fresh.canary_model.path = "models/v2.ubj";
      ASSERT_TRUE(store_->Create(fresh, {e}));
      return;
    }
    ASSERT_TRUE(store_->Update(*d, {e}));
  }

  store::testing::TempDir dir_;
  std::unique_ptr<store::SqliteDeploymentStore> store_;
};

std::vector<std::string> KeysOf(const boost::json::object& o) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : o) keys.emplace_back(key);
  return keys;
}

std::int64_t SeqOf(const boost::json::object& request) {
  return boost::json::parse(request.at("body").as_string()).as_object().at("seq").as_int64();
}

TEST_F(OutboxWebhookTest, DeliversEveryAnnouncedEventWithItsStoredSeqAndDeploymentId) {
  Receiver receiver;
  auto hook = MustCreate(Options({receiver.url()}));
  ASSERT_TRUE(hook);
  Write(core::EventKind::kTransition);                   // seq 1
  Write(core::EventKind::kCheck);                        // seq 2: not announced
  Write(core::EventKind::kWeightChange);                 // seq 3
  Write(core::EventKind::kError);                        // seq 4: not announced
  Write(core::EventKind::kPaused);                       // seq 5
  hook->Notify(SampleDeployment(), SampleEvent(false));  // a wake-up; the store has the events
  ASSERT_TRUE(Eventually([&] { return hook->counters().delivered == 3; }));
  auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 3u);
  const std::vector<std::int64_t> want{1, 3, 5};
  auto events = store_->ListEvents("dep-42", 0);
  ASSERT_TRUE(events);
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto body = boost::json::parse(requests[i].at("body").as_string()).as_object();
    EXPECT_EQ(body.at("seq").as_int64(), want[i]);
    EXPECT_EQ(body.at("deployment_id").as_string(), "dep-42");
    EXPECT_EQ(body.at("event").as_object().at("seq").as_int64(), want[i]);
    EXPECT_EQ(body.at("deployment").as_object().at("id").as_string(), "dep-42");
    EXPECT_EQ(body.at("reason").as_string(), (*events)[want[i] - 1].reason);
    // The notification codec writes (the stored deployment's values differ).
    EXPECT_EQ(
        KeysOf(body),
        KeysOf(boost::json::parse(codec::NotificationJson(SampleDeployment(), SampleEvent(false)))
                   .as_object()));
  }
  // Every entry is done, the unannounced ones too: the cursor is at the end.
  ASSERT_TRUE(Eventually([&] {
    auto rest = store_->ReadOutbox(*store_->Cursor(WebhookSinkName(receiver.url())), 10);
    return rest && rest->empty();
  }));
  const WebhookCounters c = hook->counters();
  EXPECT_EQ(c.failed, 0u);
  EXPECT_EQ(c.dropped, 0u);
}

// The events written while the service was down (or before the notifier
// started) are delivered at start, without a Notify.
TEST_F(OutboxWebhookTest, DeliversTheBacklogAtStartWithoutBeingNotified) {
  Receiver receiver;
  {
    auto hook = MustCreate(Options({receiver.url()}));  // registers the sink
    ASSERT_TRUE(hook);
    hook->Stop();
  }
  Write(core::EventKind::kTransition);
  Write(core::EventKind::kWeightChange);
  auto hook = MustCreate(Options({receiver.url()}));
  ASSERT_TRUE(hook);
  ASSERT_TRUE(Eventually([&] { return hook->counters().delivered == 2; }));
  auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(SeqOf(requests[0]), 1);
  EXPECT_EQ(SeqOf(requests[1]), 2);
}

// A delivery cut off at shutdown keeps its position: the next start (a new
// notifier on the reopened store) sends it again, then the rest. Dropping
// duplicates by (deployment_id, seq) leaves every event exactly once.
TEST_F(OutboxWebhookTest, UndeliveredEventsSurviveARestartAndAreSentAgain) {
  Receiver receiver({.delay_s = 30, .delay_first = 1});  // the first request hangs
  {
    WebhookOptions o = Options({receiver.url()});
    o.timeout = 20s;
    o.drain_timeout = 200ms;
    auto hook = MustCreate(o);
    ASSERT_TRUE(hook);
    Write(core::EventKind::kTransition);
    Write(core::EventKind::kWeightChange);
    Write(core::EventKind::kTransition);
    hook->Notify(SampleDeployment(), SampleEvent(false));
    ASSERT_TRUE(Eventually([&] { return receiver.requests().size() == 1; }));
    hook->Stop();
    EXPECT_EQ(hook->counters().delivered, 0u);
    EXPECT_EQ(hook->counters().dropped, 0u);
  }
  Reopen();
  auto hook = MustCreate(Options({receiver.url()}));
  ASSERT_TRUE(hook);
  ASSERT_TRUE(Eventually([&] { return hook->counters().delivered == 3; }));
  std::vector<std::int64_t> seqs;
  for (const auto& r : receiver.requests()) seqs.push_back(SeqOf(r));
  EXPECT_EQ(seqs, (std::vector<std::int64_t>{1, 1, 2, 3}));
}

// A receiver failing past max_attempts is retried, keeping its position: it
// gets everything, in order, once it answers; nothing is given up.
TEST_F(OutboxWebhookTest, FailingReceiverIsRetriedPastMaxAttemptsInOrder) {
  Receiver receiver({.fail_first = 7, .fail_status = 503});
  LogLines logs;
  WebhookOptions o = Options({receiver.url()});
  o.log = logs.sink();
  auto hook = MustCreate(o);  // max_attempts 3
  ASSERT_TRUE(hook);
  Write(core::EventKind::kTransition);
  Write(core::EventKind::kWeightChange);
  hook->Notify(SampleDeployment(), SampleEvent(false));
  ASSERT_TRUE(Eventually([&] { return hook->counters().delivered == 2; }));
  EXPECT_EQ(hook->counters().failed, 0u);
  EXPECT_EQ(hook->counters().retried, 7u);
  std::vector<std::int64_t> seqs;
  for (const auto& r : receiver.requests()) seqs.push_back(SeqOf(r));
  EXPECT_EQ(seqs, (std::vector<std::int64_t>{1, 1, 1, 1, 1, 1, 1, 1, 2}));
  // Said at 3 and 6 attempts (each doubling of max_attempts), not at every one.
  const auto lines = logs.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("still retrying"), std::string::npos);
  EXPECT_EQ(boost::json::parse(lines[1]).as_object().at("attempts").as_int64(), 6);
}

// An answer not worth retrying gives that one event up and moves on.
TEST_F(OutboxWebhookTest, ClientErrorGivesUpThatEventAndMovesOn) {
  Receiver receiver({.fail_first = 1, .fail_status = 400});
  auto hook = MustCreate(Options({receiver.url()}));
  ASSERT_TRUE(hook);
  Write(core::EventKind::kTransition);
  Write(core::EventKind::kWeightChange);
  hook->Notify(SampleDeployment(), SampleEvent(false));
  ASSERT_TRUE(Eventually([&] { return hook->counters().delivered == 1; }));
  EXPECT_EQ(hook->counters().failed, 1u);
  std::vector<std::int64_t> seqs;
  for (const auto& r : receiver.requests()) seqs.push_back(SeqOf(r));
  EXPECT_EQ(seqs, (std::vector<std::int64_t>{1, 2}));
}

// A dead receiver holds up only its own URL, and Stop() still ends in time.
TEST_F(OutboxWebhookTest, DeadReceiverDelaysNeitherTheOthersNorStop) {
  Receiver hanging({.delay_s = 30});
  Receiver healthy;
  WebhookOptions o = Options({hanging.url(), healthy.url()});
  o.timeout = 20s;
  o.drain_timeout = 200ms;
  auto hook = MustCreate(o);
  ASSERT_TRUE(hook);
  for (int i = 0; i < 3; ++i) Write(core::EventKind::kWeightChange);
  hook->Notify(SampleDeployment(), SampleEvent(false));
  ASSERT_TRUE(Eventually([&] { return healthy.requests().size() == 3; }));
  const auto start = Clock::now();
  hook->Stop();
  EXPECT_LT(Clock::now() - start, 5s);
  // The hanging URL's cursor did not move; the healthy one's is at the end.
  EXPECT_EQ(*store_->Cursor(WebhookSinkName(hanging.url())), 0);
  EXPECT_EQ(store_->ReadOutbox(*store_->Cursor(WebhookSinkName(healthy.url())), 10)->size(), 0u);
}

TEST(WebhookSinkNameTest, NamesTheUrlWithoutItsSecrets) {
  const std::string name = WebhookSinkName("http://user:pw@hooks.example:9000/T0/secret?k=v");
  EXPECT_EQ(name.rfind("webhook http://hooks.example:9000/... #", 0), 0u) << name;
  EXPECT_EQ(name.find("secret"), std::string::npos);
  EXPECT_EQ(name.find("pw"), std::string::npos);
  EXPECT_NE(name, WebhookSinkName("http://user:pw@hooks.example:9000/T0/other"));
  EXPECT_EQ(name, WebhookSinkName("http://user:pw@hooks.example:9000/T0/secret?k=v"));
}

}  // namespace
}  // namespace mlcanary::notify
