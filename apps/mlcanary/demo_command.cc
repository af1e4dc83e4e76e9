// `mlcanary demo`: the embedded service, steady traffic and four rollouts
// followed live through the control API (client::DeploymentFollower, as
// `deploy --wait` does) and shown by console's rollout view.
#include "demo_command.h"

#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "client/api_client.h"
#include "client/deployment_follower.h"
#include "config/service_config.h"
#include "console/rollout_view.h"
#include "console/terminal.h"
#include "core/policy.h"
#include "core/time.h"
#include "loadgen/load_generator.h"
#include "service.h"

namespace mlcanary::app {
namespace {

namespace fs = std::filesystem;
using console::Format;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kEndpoint = "recs";
constexpr const char* kModelFiles[] = {"recs-v1.json", "recs-v2.ubj", "recs-v3.json",
                                       "recs-v4.json", "recs-v5.ubj"};

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void OnInterrupt(int) { g_interrupted = 1; }

// ---- Finding the example models ---------------------------------------------

std::vector<std::string> MissingModels(const fs::path& dir) {
  std::vector<std::string> missing;
  for (const char* file : kModelFiles) {
    std::error_code ec;
    if (!fs::is_regular_file(dir / file, ec)) missing.push_back(file);
  }
  return missing;
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : std::string(sep)) + item;
  return out;
}

// The models directory: --models, else examples/models (or an installed
// share/mlcanary/models) in a directory above the binary or the current
// directory — a build tree inside the source tree finds the sources' models.
core::Result<fs::path> FindModels(const std::string& requested) {
  const std::string needed = "needs " +
                             Join({std::begin(kModelFiles), std::end(kModelFiles)}, ", ") +
                             " (examples/models/make_models.sh trains them)";
  if (!requested.empty()) {
    std::error_code ec;
    const fs::path dir = fs::absolute(requested, ec);
    if (!fs::is_directory(dir, ec)) {
      return core::ValidationError("--models " + requested + ": not a directory; " + needed);
    }
    const auto missing = MissingModels(dir);
    if (!missing.empty()) {
      return core::ValidationError("--models " + requested + ": missing " + Join(missing, ", ") +
                                   "; " + needed);
    }
    return fs::canonical(dir, ec);
  }
  std::vector<fs::path> starts;
  std::error_code ec;
  if (fs::path exe = fs::read_symlink("/proc/self/exe", ec); !ec) {
    starts.push_back(exe.parent_path());
  }
  if (fs::path cwd = fs::current_path(ec); !ec) starts.push_back(cwd);
  std::vector<std::string> looked;
  std::string incomplete;
  for (const fs::path& start : starts) {
    for (fs::path dir = start;; dir = dir.parent_path()) {
      for (const fs::path& candidate :
           {dir / "examples" / "models", dir / "share/mlcanary/models"}) {
        if (!fs::is_directory(candidate, ec)) continue;
        const auto missing = MissingModels(candidate);
        if (missing.empty()) return fs::canonical(candidate, ec);
        if (incomplete.empty()) {
          incomplete = "; " + candidate.string() + " lacks " + Join(missing, ", ");
        }
      }
      looked.push_back(dir.string());
      if (dir == dir.root_path() || dir.parent_path() == dir) break;
    }
  }
  return core::ValidationError(
      "example models not found: no examples/models under " +
      (looked.empty() ? std::string("the binary's or the current directory") : looked.front()) +
      " or any directory above it, nor above the current directory" + incomplete +
      ". Pass --models DIR; the demo " + needed);
}

// ---- The temporary data directory and the service ---------------------------

core::Result<fs::path> MakeDataDir() {
  std::string templ = (fs::temp_directory_path() / "mlcanary-demo-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) {
    return core::InternalError("cannot create a temporary directory: " +
                               std::string(std::strerror(errno)));
  }
  return fs::path(templ);
}

std::string NewToken() {
  std::random_device random;
  std::string token;
  for (int i = 0; i < 4; ++i) token += Format("%08x", static_cast<unsigned>(random()));
  return token;
}

core::Policy DemoPolicy(bool fast) {
  core::Policy p;
  p.steps = {0.10, 0.30, 0.60, 1.0};
  p.interval = 1s;
  p.bake = fast ? 2s : 3s;
  p.final_bake = 0s;
  p.min_invocations = 20;
  // The example models answer in microseconds, where two healthy models'
  // p99s differ by 2-4x from noise alone: the 2x ratio rule judges only a
  // canary p99 of 3 ms or more, which the slow v4 (6-13 ms) is. The other
  // thresholds, breach counts and auto-rollback keep the design document's
  // defaults: p99 < 100 ms, errors < 1 %, 3 latency or 2 error breaches in a
  // row -> rollback.
  p.latency_ratio_min_p99_ms = 3;
  return p;
}

// The serve command's event log lines, appended to DIR/events.jsonl.
class EventLogFile {
 public:
  explicit EventLogFile(const fs::path& path) : file_(std::fopen(path.c_str(), "a")) {}
  ~EventLogFile() {
    if (file_ != nullptr) std::fclose(file_);
  }
  EventLogFile(const EventLogFile&) = delete;
  EventLogFile& operator=(const EventLogFile&) = delete;
  void Write(std::string_view line) {
    std::lock_guard lock(mu_);
    if (file_ == nullptr) return;
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fputc('\n', file_);
    std::fflush(file_);
  }

 private:
  std::mutex mu_;
  std::FILE* file_;  // GUARDED_BY(mu_)
};

// ---- Following one rollout ----------------------------------------------------

struct Scenario {
  std::string model_file;
  std::string variant;
  std::string story;     // one line: what is different about this model
  std::string expected;  // final state
  // Overrides of the endpoint's policy (the API's body.policy); empty: none.
  boost::json::object policy;
  // Expected to end in the shadow phase: the canary never got a user's request.
  bool shadow_only = false;
};

// recs-v5's policy: a shadow phase (the canary answers copies of every request,
// never returned) judged by the paired divergence check: rolled back when 5 %
// of the pairs differ by more than 0.05, before any user reaches it.
boost::json::object ShadowDivergencePolicy() {
  boost::json::object shadow;
  shadow["duration"] = "20s";
  shadow["sample"] = 1.0;
  boost::json::object p;
  p["shadow"] = std::move(shadow);
  p["divergence_max_disagreement"] = 0.05;
  p["divergence_tolerance"] = 0.05;
  p["divergence_min_predictions"] = 100;
  return p;
}

// Shows one rollout until it ends: its events as a timeline, the traffic as the
// status line. Never leaves it half done: past `limit` it is rolled back.
class RolloutWatch {
 public:
  RolloutWatch(console::Terminal& term, client::ApiClient& api, loadgen::LoadGenerator& load,
               console::RolloutResult& result)
      : term_(term),
        api_(api),
        load_(load),
        result_(result),
        base_(load.snapshot()),
        last_(base_) {}

  void Run(const core::Deployment& d, SteadyClock::time_point started,
           SteadyClock::duration limit) {
    start_ = d.created_at;
    client::DeploymentFollower follower(api_, d.id);
    for (;;) {
      if (auto round = follower.Next()) {
        for (const auto& e : round->events) Show(e.value);
        if (round->final()) {
          result_.final_state = std::string(core::StateName(round->deployment.state));
          break;
        }
      }
      if (g_interrupted != 0) {
        result_.reason = "interrupted";
        break;
      }
      if (SteadyClock::now() - started > limit && !gave_up_) GiveUp(limit);
      std::this_thread::sleep_for(250ms);
      ShowTraffic();
    }
    term_.EndStatus();
    if (gave_up_ && !result_.final_state.empty()) result_.final_state += " (forced)";
  }

  // The canary's highest weight in the events shown (0: no user reached it).
  double max_weight() const { return max_weight_; }

 private:
  void Show(const core::DeploymentEvent& e) {
    if (e.kind == core::EventKind::kCheck) ++result_.checks;
    max_weight_ = std::max({max_weight_, e.weight_before, e.weight_after});
    // The summary's reason is the decisive transition's: into ROLLING_BACK (its
    // cause, not "traffic back on production") or else into the final state.
    if (e.kind == core::EventKind::kTransition && !decided_ &&
        (e.to_state == core::DeploymentState::kRollingBack || core::IsTerminal(e.to_state))) {
      result_.reason = e.reason;
      decided_ = true;
    }
    term_.Line(console::TimelineLine(term_.style(), e, start_));
  }

  void GiveUp(SteadyClock::duration limit) {
    gave_up_ = true;
    result_.reason =
        Format("not finished after %.0fs", std::chrono::duration<double>(limit).count());
    term_.Line(term_.style().Red("   " + result_.reason + "; rolling it back"));
    (void)api_.Act(result_.id, "rollback");
  }

  void ShowTraffic() {
    const auto now = SteadyClock::now();
    const loadgen::LoadSnapshot snap = load_.snapshot();
    const double dt = std::chrono::duration<double>(now - last_at_).count();
    if (dt >= 1.0) {
      rate_ = static_cast<double>(snap.answers - last_.answers) / dt;
      last_ = snap;
      last_at_ = now;
    }
    term_.Status(term_.style().Dim(console::TrafficLine(snap, base_, rate_)));
  }

  console::Terminal& term_;
  client::ApiClient& api_;
  loadgen::LoadGenerator& load_;
  console::RolloutResult& result_;
  std::optional<core::Timestamp> start_;
  bool decided_ = false;
  bool gave_up_ = false;
  double max_weight_ = 0;
  const loadgen::LoadSnapshot base_;
  loadgen::LoadSnapshot last_;
  SteadyClock::time_point last_at_ = SteadyClock::now();
  double rate_ = 0;
};

console::RolloutResult RunRollout(console::Terminal& term, client::ApiClient& api,
                                  loadgen::LoadGenerator& load, const fs::path& models,
                                  const Scenario& s, int index, int total,
                                  SteadyClock::duration limit) {
  console::RolloutResult out{.model_file = s.model_file, .expected = s.expected};
  term.Line("");
  term.Line(console::RolloutTitle(term.style(), index, total, s.model_file, s.story, s.expected));
  const auto started = SteadyClock::now();
  auto created = api.CreateDeployment({.endpoint = kEndpoint,
                                       .model_path = (models / s.model_file).string(),
                                       .variant = s.variant,
                                       .policy = s.policy});
  if (!created) {
    out.reason = "deploy refused: " + created.error().message();
    term.Line(term.style().Red("   " + out.reason));
    return out;
  }
  out.id = created->value.id;
  term.Line(console::RolloutStarted(created->value));
  term.Line(console::CheckHeader(term.style()));
  RolloutWatch watch(term, api, load, out);
  watch.Run(created->value, started, limit);
  // A shadow-only rollout that let users reach the canary did not go as expected.
  if (s.shadow_only && watch.max_weight() > 0 && !out.final_state.empty()) {
    out.final_state += " (after the shadow)";
  }
  out.seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
  term.Line(console::RolloutEnded(term.style(), out));
  return out;
}

// Removes the data directory at scope exit unless it is to be kept.
class DataDir {
 public:
  DataDir(fs::path path, bool keep) : path_(std::move(path)), keep_(keep) {}
  ~DataDir() {
    if (keep_) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  DataDir(const DataDir&) = delete;
  DataDir& operator=(const DataDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  bool keep_;
};

// Restores signal handling and the log level at scope exit.
class DemoScope {
 public:
  DemoScope() : level_(spdlog::get_level()) {
    // The demo prints its own story; the service's info lines would interleave.
    spdlog::set_level(spdlog::level::warn);
    g_interrupted = 0;
    old_int_ = std::signal(SIGINT, OnInterrupt);
    old_term_ = std::signal(SIGTERM, OnInterrupt);
    old_hup_ = std::signal(SIGHUP, OnInterrupt);
    // A closed stdout (`| head`) must not kill the demo before it cleans up.
    old_pipe_ = std::signal(SIGPIPE, SIG_IGN);
  }
  ~DemoScope() {
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
    std::signal(SIGHUP, old_hup_);
    std::signal(SIGPIPE, old_pipe_);
    spdlog::set_level(level_);
  }
  DemoScope(const DemoScope&) = delete;
  DemoScope& operator=(const DemoScope&) = delete;

 private:
  spdlog::level::level_enum level_;
  void (*old_int_)(int) = nullptr;
  void (*old_term_)(int) = nullptr;
  void (*old_hup_)(int) = nullptr;
  void (*old_pipe_)(int) = nullptr;
};

// ---- The demo's steps -----------------------------------------------------------

config::ServiceConfig DemoConfig(const fs::path& models, const fs::path& data,
                                 const core::Policy& policy) {
  config::ServiceConfig config;
  config.source = "mlcanary demo";
  config.inference_listen = "127.0.0.1:0";
  config.control_listen = "127.0.0.1:0";
  config.store = "sqlite:" + (data / "mlcanary.db").string();
  config.controller_interval = 1s;
  config.endpoints.push_back(config::EndpointConfig{
      .name = kEndpoint,
      .variants = {core::Variant{.name = "recs-v1",
                                 .weight = 1.0,
                                 .instances = 1,
                                 .model = {.kind = core::ModelKind::kXgboost,
                                           .path = (models / "recs-v1.json").string()}}},
      .policy = policy});
  return config;
}

void PrintIntro(console::Terminal& term, const fs::path& models, const fs::path& data, bool keep) {
  const console::Style& style = term.style();
  term.Line(style.Bold("mlcanary demo") +
            " \u2014 four canary rollouts on live traffic, time compressed");
  term.Line(style.Dim("   models    " + models.string()));
  term.Line(style.Dim("   data dir  " + data.string() +
                      (keep ? " (kept: --keep)" : " (removed at the end; --keep keeps it)")));
  term.Line("   starting the service (SQLite store, in-process XGBoost, controller every 1s)...");
}

void PrintService(console::Terminal& term, const Service& service, const std::string& token,
                  const core::Policy& policy) {
  const console::Style& style = term.style();
  const std::string control = "http://127.0.0.1:" + std::to_string(service.control_port());
  term.Line("   inference  " +
            style.Bold("http://127.0.0.1:" + std::to_string(service.inference_port())) +
            "/v1/endpoints/recs/invocations");
  term.Line("   control    " + style.Bold(control) + "  (admin token " + token + ")");
  term.Line("   dashboard  " + style.Bold(style.Cyan(control + "/")) +
            "  \u2014 open it while the demo runs");
  term.Line(style.Dim("   CLI        MLCANARY_URL=" + control + " MLCANARY_API_TOKEN=" + token +
                      " mlcanary list"));
  for (const std::string& line : console::PolicyLines(policy)) term.Line(line);
}

loadgen::LoadOptions DemoTraffic(const Service& service) {
  loadgen::LoadOptions o;
  o.port = service.inference_port();
  o.endpoint = kEndpoint;
  o.threads = 4;
  o.rate_per_second = 400;
  o.users = 1000;
  return o;
}

// Production answers first, so that the first check has its p99 to compare with.
// False when the gateway gave no answer in 15 s.
bool WarmUp(loadgen::LoadGenerator& load, bool fast) {
  const auto warmup_end = SteadyClock::now() + (fast ? 1s : 2s);
  const auto warmup_limit = SteadyClock::now() + 15s;
  while (g_interrupted == 0 && SteadyClock::now() < warmup_limit &&
         (SteadyClock::now() < warmup_end || load.snapshot().answers == 0)) {
    std::this_thread::sleep_for(100ms);
  }
  return load.snapshot().answers > 0 || g_interrupted != 0;
}

std::vector<console::RolloutResult> RunScenarios(console::Terminal& term, client::ApiClient& api,
                                                 loadgen::LoadGenerator& load,
                                                 const fs::path& models, bool fast) {
  const std::vector<Scenario> scenarios = {
      {"recs-v2.ubj", "recs-v2", "retrained on fresher data, same 8 features", "COMPLETED"},
      {"recs-v3.json", "recs-v3", "expects 12 features: every request it gets is a 400",
       "ROLLED_BACK"},
      {"recs-v4.json", "recs-v4", "1500 deep DART trees: correct but far slower", "ROLLED_BACK"},
      {.model_file = "recs-v5.ubj",
       .variant = "recs-v5",
       .story = "v2 trained with features 0 and 1 swapped: fast, no errors, wrong answers; "
                "shadow first",
       .expected = "ROLLED_BACK",
       .policy = ShadowDivergencePolicy(),
       .shadow_only = true},
  };
  std::vector<console::RolloutResult> results;
  for (std::size_t i = 0; i < scenarios.size() && g_interrupted == 0; ++i) {
    results.push_back(RunRollout(term, api, load, models, scenarios[i], static_cast<int>(i) + 1,
                                 static_cast<int>(scenarios.size()), 90s));
    // Let the split settle on the new production before the next canary.
    if (i + 1 < scenarios.size()) std::this_thread::sleep_for(fast ? 500ms : 1500ms);
  }
  return results;
}

// The summary and the verdict; returns the exit status.
int PrintOutcome(console::Terminal& term, const std::vector<console::RolloutResult>& results,
                 const loadgen::LoadSnapshot& traffic, double seconds, const DataDir& data,
                 bool keep) {
  const console::Style& style = term.style();
  for (const std::string& line : console::SummaryTable(style, results)) term.Line(line);
  term.Line(console::TrafficTotals(traffic));
  bool as_expected = results.size() == 4;
  for (const auto& r : results) as_expected = as_expected && r.as_expected();
  term.Line("");
  int status = 1;
  if (g_interrupted != 0) {
    term.Line(style.Yellow("Interrupted."));
    status = 130;
  } else if (as_expected) {
    term.Line(style.Green(style.Bold("\u2714 All four rollouts ended as expected")) + " in " +
              console::Seconds(seconds) +
              ": COMPLETED, ROLLED_BACK (errors), ROLLED_BACK (latency), ROLLED_BACK (divergence, "
              "in shadow: no user saw it).");
    status = 0;
  } else {
    term.Line(style.Red(style.Bold("\u2718 Not every rollout ended as expected")) + " (" +
              console::Seconds(seconds) + ").");
  }
  term.Line(keep ? "Data kept in " + data.path().string() +
                       " (mlcanary.db, events.jsonl). Nothing is left running."
                 : "Service stopped, traffic stopped, data directory removed.");
  term.Line(
      "Next: README.md \"Run the service\" for `mlcanary serve` and `mlcanary deploy --wait`.");
  return status;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "mlcanary demo: %s\n", message.c_str());
  return 1;
}

// With the service up: traffic, warm-up, the rollouts, the outcome.
int RunWithService(console::Terminal& term, Service& service, const std::string& token,
                   const fs::path& models, const DataDir& data, const DemoOptions& options,
                   SteadyClock::time_point demo_started) {
  const loadgen::LoadOptions load_options = DemoTraffic(service);
  loadgen::LoadGenerator load(load_options);
  if (auto s = load.Start(); !s) return Fail("traffic: " + s.error().message());
  term.Line(
      Format("   traffic    %.0f requests/s from %d keep-alive connections, %d users, 8 "
             "features each",
             load_options.rate_per_second, load_options.threads, load_options.users));
  if (!WarmUp(load, options.fast)) {
    load.Stop();
    return Fail("no answers from the gateway at http://127.0.0.1:" +
                std::to_string(service.inference_port()) + " after 15s");
  }
  client::ApiClient api(
      {.base_url = "http://127.0.0.1:" + std::to_string(service.control_port()), .token = token});
  const auto results = RunScenarios(term, api, load, models, options.fast);
  load.Stop();
  const loadgen::LoadSnapshot traffic = load.snapshot();
  service.Stop();
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - demo_started).count();
  return PrintOutcome(term, results, traffic, seconds, data, options.keep);
}

}  // namespace

int RunDemo(const DemoOptions& options) {
  console::Terminal term;
  auto models = FindModels(options.models_dir);
  if (!models) return Fail(models.error().message());
  auto made = MakeDataDir();
  if (!made) return Fail(made.error().message());
  DemoScope scope;
  DataDir data(*made, options.keep);
  const auto demo_started = SteadyClock::now();
  const core::Policy policy = DemoPolicy(options.fast);
  if (auto s = core::ValidatePolicy(policy); !s) return Fail(s.error().message());
  PrintIntro(term, *models, data.path(), options.keep);

  ServiceOptions service_options;
  service_options.admin_token = NewToken();
  auto event_log = std::make_shared<EventLogFile>(data.path() / "events.jsonl");
  service_options.event_log = [event_log](std::string_view line) { event_log->Write(line); };
  auto service = Service::Start(DemoConfig(*models, data.path(), policy), service_options);
  if (!service) return Fail("the service did not start: " + service.error().message());
  PrintService(term, **service, service_options.admin_token, policy);
  const int status = RunWithService(term, **service, service_options.admin_token, *models, data,
                                    options, demo_started);
  (*service)->Stop();
  return status;
}

}  // namespace mlcanary::app
