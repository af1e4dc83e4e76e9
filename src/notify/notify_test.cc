#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "notify/fanout_notifier.h"
#include "notify/log_notifier.h"
#include "notify/webhook_notifier.h"

extern char** environ;

namespace mlcanary::notify {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

core::Deployment SampleDeployment() {
  core::Deployment d;
  d.id = "dep-42";
  d.endpoint = "recs";
  d.production_variant = "production";
  d.canary_variant = "canary";
  d.state = core::DeploymentState::kRollingBack;
  d.canary_weight = 0;
  return d;
}

core::DeploymentEvent SampleEvent(bool with_check) {
  core::DeploymentEvent e;
  e.seq = 7;
  e.deployment_id = "dep-42";
  e.kind = core::EventKind::kTransition;
  e.from_state = core::DeploymentState::kInProgress;
  e.to_state = core::DeploymentState::kRollingBack;
  e.weight_before = 0.3;
  e.weight_after = 0;
  e.reason = "rollback: error rate breached on 2 consecutive checks";
  e.actor = "controller";
  if (with_check) {
    e.check = core::EvaluateHealth({.invocations = 600, .errors_5xx = 30, .p99_ms = 45},
                                   {.invocations = 5400, .p99_ms = 40}, core::Policy{});
  }
  return e;
}

// A real HTTP receiver (Python's http.server) on a free port.
class Receiver {
 public:
  explicit Receiver(int fail_first = 0, int status = 200, double delay = 0) {
    dir_ = fs::temp_directory_path() /
           ("mlcanary-webhook-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(dir_);
    const std::string port_file = (dir_ / "port").string();
    out_ = (dir_ / "bodies").string();
    std::vector<std::string> args{"python3",
                                  MLCANARY_WEBHOOK_RECEIVER,
                                  port_file,
                                  out_,
                                  std::to_string(fail_first),
                                  std::to_string(status),
                                  std::to_string(delay)};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawnp(&pid_, "python3", nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
    for (int i = 0; i < 200 && port_ == 0; ++i) {
      std::ifstream in(port_file);
      if (in >> port_) break;
      std::this_thread::sleep_for(25ms);
    }
  }
  ~Receiver() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    fs::remove_all(dir_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  int port() const { return port_; }
  std::vector<std::string> bodies() const {
    std::ifstream in(out_);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

 private:
  static inline int counter_ = 0;
  fs::path dir_;
  std::string out_;
  pid_t pid_ = -1;
  int port_ = 0;
};

WebhookOptions FastOptions(std::vector<std::string> urls) {
  WebhookOptions o;
  o.urls = std::move(urls);
  o.backoff_base = 1ms;
  o.backoff_cap = 5ms;
  o.timeout = 2s;
  o.max_attempts = 3;
  return o;
}

template <typename Pred>
bool Eventually(Pred pred) {
  for (int i = 0; i < 400; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(25ms);
  }
  return pred();
}

TEST(WebhookPayloadTest, CarriesDeploymentEventStatesWeightsReasonAndCheck) {
  auto doc = boost::json::parse(WebhookPayload(SampleDeployment(), SampleEvent(true)));
  const auto& o = doc.as_object();
  EXPECT_EQ(o.at("endpoint").as_string(), "recs");
  EXPECT_EQ(o.at("from_state").as_string(), "IN_PROGRESS");
  EXPECT_EQ(o.at("to_state").as_string(), "ROLLING_BACK");
  EXPECT_DOUBLE_EQ(o.at("weight_before").to_number<double>(), 0.3);
  EXPECT_EQ(o.at("deployment").as_object().at("id").as_string(), "dep-42");
  EXPECT_EQ(o.at("event").as_object().at("seq").as_int64(), 7);
  EXPECT_EQ(o.at("check").as_object().at("verdict").as_string(), "error_breached");
  auto plain = boost::json::parse(WebhookPayload(SampleDeployment(), SampleEvent(false)));
  EXPECT_TRUE(plain.as_object().at("check").is_null());
}

TEST(LogNotifierTest, WritesOneJsonLinePerEvent) {
  std::vector<std::string> lines;
  LogNotifier log([&](std::string_view line) { lines.emplace_back(line); });
  log.Notify(SampleDeployment(), SampleEvent(true));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].find('\n'), std::string::npos);
  auto doc = boost::json::parse(lines[0]);
  EXPECT_EQ(doc.as_object().at("level").as_string(), "warn");
  EXPECT_EQ(doc.as_object().at("to").as_string(), "ROLLING_BACK");
  EXPECT_EQ(doc.as_object().at("deployment").as_string(), "dep-42");
  EXPECT_TRUE(doc.as_object().contains("check"));
}

TEST(FanoutNotifierTest, ForwardsToEveryNotifier) {
  int a = 0, b = 0;
  LogNotifier first([&](std::string_view) { ++a; });
  LogNotifier second([&](std::string_view) { ++b; });
  FanoutNotifier fanout({&first, &second});
  fanout.Notify(SampleDeployment(), SampleEvent(false));
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 1);
}

TEST(WebhookRetryTest, RetriesNoAnswer5xxAnd429Only) {
  EXPECT_TRUE(ShouldRetry(0));
  EXPECT_TRUE(ShouldRetry(500));
  EXPECT_TRUE(ShouldRetry(503));
  EXPECT_TRUE(ShouldRetry(429));
  EXPECT_FALSE(ShouldRetry(400));
  EXPECT_FALSE(ShouldRetry(404));
  EXPECT_FALSE(ShouldRetry(200));
}

TEST(WebhookNotifierTest, RefusesNonHttpUrls) {
  EXPECT_FALSE(WebhookNotifier::Create(FastOptions({"https://example.invalid/hook"})));
  EXPECT_FALSE(WebhookNotifier::Create(FastOptions({})));
}

TEST(WebhookNotifierTest, DeliversThePayload) {
  Receiver receiver;
  ASSERT_GT(receiver.port(), 0);
  auto hook = WebhookNotifier::Create(FastOptions({receiver.url()}));
  ASSERT_TRUE(hook);
  (*hook)->Notify(SampleDeployment(), SampleEvent(true));
  ASSERT_TRUE(Eventually([&] { return (*hook)->counters().delivered == 1; }));
  auto bodies = receiver.bodies();
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_NE(bodies[0].find("dep-42"), std::string::npos);
}

TEST(WebhookNotifierTest, RetriesAfter5xxThenDelivers) {
  Receiver receiver(/*fail_first=*/2);
  auto hook = WebhookNotifier::Create(FastOptions({receiver.url()}));
  ASSERT_TRUE(hook);
  (*hook)->Notify(SampleDeployment(), SampleEvent(false));
  ASSERT_TRUE(Eventually([&] { return (*hook)->counters().delivered == 1; }));
  EXPECT_EQ((*hook)->counters().retried, 2u);
  EXPECT_EQ((*hook)->counters().failed, 0u);
}

TEST(WebhookNotifierTest, GivesUpAfterMaxAttemptsAndLogsIt) {
  Receiver receiver(0, /*status=*/503);
  std::vector<std::string> logs;
  std::mutex mu;
  WebhookOptions o = FastOptions({receiver.url()});
  o.log = [&](std::string_view line) {
    std::lock_guard lock(mu);
    logs.emplace_back(line);
  };
  auto hook = WebhookNotifier::Create(o);
  ASSERT_TRUE(hook);
  (*hook)->Notify(SampleDeployment(), SampleEvent(false));
  ASSERT_TRUE(Eventually([&] { return (*hook)->counters().failed == 1; }));
  EXPECT_EQ((*hook)->counters().retried, 2u);
  std::lock_guard lock(mu);
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("HTTP 503"), std::string::npos);
}

TEST(WebhookNotifierTest, ClientErrorIsNotRetried) {
  Receiver receiver(0, /*status=*/400);
  auto hook = WebhookNotifier::Create(FastOptions({receiver.url()}));
  ASSERT_TRUE(hook);
  (*hook)->Notify(SampleDeployment(), SampleEvent(false));
  ASSERT_TRUE(Eventually([&] { return (*hook)->counters().failed == 1; }));
  EXPECT_EQ((*hook)->counters().retried, 0u);
}

TEST(WebhookNotifierTest, DeadWebhookIsCountedAndNeverBlocksNotify) {
  // Nothing listens on the receiver's port once it is gone.
  int port = 0;
  {
    Receiver gone;
    port = gone.port();
  }
  auto hook =
      WebhookNotifier::Create(FastOptions({"http://127.0.0.1:" + std::to_string(port) + "/hook"}));
  ASSERT_TRUE(hook);
  (*hook)->Notify(SampleDeployment(), SampleEvent(false));
  ASSERT_TRUE(Eventually([&] { return (*hook)->counters().failed == 1; }));
}

TEST(WebhookNotifierTest, HangingWebhookDoesNotBlockNotifyAndOverflowIsCounted) {
  Receiver receiver(0, 200, /*delay=*/5.0);
  WebhookOptions o = FastOptions({receiver.url()});
  o.queue_capacity = 2;
  o.drain_timeout = 100ms;
  o.timeout = 500ms;
  o.max_attempts = 1;
  auto hook = WebhookNotifier::Create(o);
  ASSERT_TRUE(hook);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) (*hook)->Notify(SampleDeployment(), SampleEvent(false));
  // Ten enqueues take far less than one webhook answer (5 s): nothing waited on it.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_GE((*hook)->counters().dropped, 7u);
  (*hook)->Stop();  // bounded by the drain timeout and one attempt's timeout
  const auto c = (*hook)->counters();
  EXPECT_EQ(c.delivered + c.failed + c.dropped, 10u);
}

}  // namespace
}  // namespace mlcanary::notify
