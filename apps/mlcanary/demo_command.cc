// `mlcanary demo`: the embedded service, steady traffic and three rollouts
// followed live through the control API (as `deploy --wait` does).
#include "demo_command.h"

#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
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
#include "config/service_config.h"
#include "core/policy.h"
#include "core/time.h"
#include "loadgen/load_generator.h"
#include "service.h"

namespace mlcanary::app {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kEndpoint = "recs";
constexpr const char* kModelFiles[] = {"recs-v1.json", "recs-v2.ubj", "recs-v3.json",
                                       "recs-v4.json"};

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void OnInterrupt(int) { g_interrupted = 1; }

// ---- JSON fields of the control API's answers -------------------------------

const json::value& Field(const json::value& v, std::string_view key) {
  static const json::value kNull;
  if (!v.is_object()) return kNull;
  const json::value* f = v.get_object().if_contains(key);
  return f == nullptr ? kNull : *f;
}

std::string Str(const json::value& v, std::string_view key) {
  const json::value& f = Field(v, key);
  return f.is_string() ? std::string(f.get_string()) : std::string();
}

double Num(const json::value& v, std::string_view key) {
  const json::value& f = Field(v, key);
  return f.is_number() ? f.to_number<double>() : 0;
}

// ---- Terminal ---------------------------------------------------------------

// Writes lines to stdout; on a terminal also colours and keeps one status line
// (traffic counters) at the bottom, redrawn in place.
class Terminal {
 public:
  Terminal() : tty_(::isatty(STDOUT_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr) {}

  bool tty() const { return tty_; }

  std::string Paint(std::string_view code, std::string_view text) const {
    if (!tty_) return std::string(text);
    return "\033[" + std::string(code) + "m" + std::string(text) + "\033[0m";
  }
  std::string Bold(std::string_view s) const { return Paint("1", s); }
  std::string Dim(std::string_view s) const { return Paint("2", s); }
  std::string Green(std::string_view s) const { return Paint("32", s); }
  std::string Red(std::string_view s) const { return Paint("31", s); }
  std::string Yellow(std::string_view s) const { return Paint("33", s); }
  std::string Cyan(std::string_view s) const { return Paint("36", s); }

  void Line(const std::string& text) {
    ClearStatus();
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    if (!status_.empty()) DrawStatus();
    std::fflush(stdout);
  }

  void Status(const std::string& text) {
    if (!tty_) return;
    status_ = text;
    DrawStatus();
    std::fflush(stdout);
  }

  void EndStatus() {
    ClearStatus();
    status_.clear();
    std::fflush(stdout);
  }

 private:
  void ClearStatus() {
    if (tty_ && !status_.empty()) std::fputs("\r\033[K", stdout);
  }
  void DrawStatus() { std::fprintf(stdout, "\r\033[K%s", status_.c_str()); }

  const bool tty_;
  std::string status_;
};

std::string Format(const char* format, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof(buf), format, args...);
  return buf;
}

std::string Bar(double weight) {
  std::string out;
  const int filled = static_cast<int>(std::lround(weight * 20));
  for (int i = 0; i < 20; ++i) out += i < filled ? "\u2588" : "\u00b7";
  return out;
}

std::string Percent(double w) { return Format("%.0f%%", w * 100); }

std::string Seconds(double s) { return Format("%.1fs", s); }

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
};

struct Outcome {
  std::string id;
  std::string model_file;
  std::string expected;
  std::string final_state;  // "" when it never ended
  double seconds = 0;
  int checks = 0;
  std::string reason;
};

bool FinalState(const std::string& state) {
  return state == "COMPLETED" || state == "ROLLED_BACK" || state == "FAILED" ||
         state == "CANCELLED";
}

std::string StateColored(const Terminal& term, const std::string& state) {
  if (state == "COMPLETED") return term.Green(state);
  if (state == "ROLLED_BACK" || state == "ROLLING_BACK" || state == "FAILED")
    return term.Red(state);
  return term.Yellow(state);
}

std::string VerdictColored(const Terminal& term, const std::string& verdict) {
  std::string text = verdict;
  for (char& c : text) c = c == '_' ? ' ' : c;
  if (verdict == "healthy") return term.Green(text);
  if (verdict == "inconclusive") return term.Yellow(text);
  return term.Red(text);
}

std::string Elapsed(const json::value& event, const std::optional<core::Timestamp>& start) {
  if (!start) return "";
  auto t = core::ParseRfc3339(Str(event, "time"));
  if (!t) return "";
  return "+" + Seconds(std::chrono::duration<double>(*t - *start).count());
}

std::string Metrics(const json::value& m) {
  return Format("%8.2fms %6.2f%% %5lld", Num(m, "p99_ms"), Num(m, "error_rate") * 100,
                static_cast<long long>(Num(m, "invocations")));
}

void PrintCheckHeader(Terminal& term) {
  // Columns of PrintEvent's check lines.
  term.Line(term.Dim(Format("%10s  %-25s \u2502 %10s %7s %5s \u2502 %10s %7s %5s \u2502 %s", "time",
                            "canary weight", "canary p99", "errors", "n", "prod p99", "errors", "n",
                            "verdict")));
}

void PrintEvent(Terminal& term, const json::value& e, const std::optional<core::Timestamp>& start) {
  const std::string kind = Str(e, "kind");
  const std::string when = Format("%10s", Elapsed(e, start).c_str());
  if (kind == "check") {
    const json::value& check = Field(e, "check");
    const std::string verdict = Str(check, "verdict");
    std::string line = Format(
        "%s  %s %4s \u2502 %s \u2502 %s \u2502 ", when.c_str(),
        Bar(Num(e, "weight_before")).c_str(), Percent(Num(e, "weight_before")).c_str(),
        Metrics(Field(check, "canary")).c_str(), Metrics(Field(check, "production")).c_str());
    line += VerdictColored(term, verdict);
    if (verdict != "healthy" && verdict != "inconclusive") {
      line += term.Dim("  " + Str(check, "reason"));
    }
    term.Line(line);
    return;
  }
  const double before = Num(e, "weight_before");
  const double after = Num(e, "weight_after");
  std::string what;
  if (kind == "transition" && Str(e, "from_state") == Str(e, "to_state")) {
    what = StateColored(term, Str(e, "to_state"));
  } else if (kind == "transition") {
    what = StateColored(term, Str(e, "from_state")) + " \u2192 " +
           StateColored(term, Str(e, "to_state"));
  } else if (kind == "weight_change") {
    what = term.Cyan("weight " + Percent(before) + " \u2192 " + Percent(after));
  } else {
    what = term.Yellow(kind);
  }
  if (kind == "transition" && !core::SameWeight(before, after)) {
    what += term.Cyan("  (weight " + Percent(before) + " \u2192 " + Percent(after) + ")");
  }
  term.Line(Format("%s  %s %4s \u25b8 ", when.c_str(), Bar(after).c_str(), Percent(after).c_str()) +
            term.Bold(what) + ": " + Str(e, "reason"));
}

// "recs-v1 3120 ok · recs-v3 12 ok 340 4xx" over the traffic since `base`.
std::string TrafficLine(const loadgen::LoadSnapshot& now, const loadgen::LoadSnapshot& base,
                        double rate) {
  std::string out = Format("   traffic %4.0f req/s \u2502", rate);
  for (const auto& [variant, counts] : now.variants) {
    loadgen::VariantCounts delta = counts;
    if (auto it = base.variants.find(variant); it != base.variants.end()) {
      for (const auto& [status, n] : it->second.by_status) delta.by_status[status] -= n;
    }
    if (delta.total() == 0) continue;
    out += Format(" %s: %llu ok", variant.empty() ? "?" : variant.c_str(),
                  static_cast<unsigned long long>(delta.ok()));
    if (delta.errors_4xx() > 0) {
      out += Format(" %llu 4xx", static_cast<unsigned long long>(delta.errors_4xx()));
    }
    if (delta.errors_5xx() > 0) {
      out += Format(" %llu 5xx", static_cast<unsigned long long>(delta.errors_5xx()));
    }
    out += " \u2502";
  }
  if (now.transport_errors > base.transport_errors) {
    out += Format(" %llu connection errors",
                  static_cast<unsigned long long>(now.transport_errors - base.transport_errors));
  }
  return out;
}

Outcome RunRollout(Terminal& term, client::ApiClient& api, loadgen::LoadGenerator& load,
                   const fs::path& models, const Scenario& s, int index, int total,
                   SteadyClock::duration limit) {
  Outcome out{.model_file = s.model_file, .expected = s.expected};
  term.Line("");
  term.Line(term.Bold(Format("\u2501\u2501 %d/%d  deploy %s", index, total, s.model_file.c_str())) +
            " \u2014 " + s.story + "  " + term.Dim("(expected: " + s.expected + ")"));

  json::object body;
  body["endpoint"] = kEndpoint;
  body["variant"] = s.variant;
  body["model"] = json::object{{"kind", "xgboost"}, {"path", (models / s.model_file).string()}};
  const auto started = SteadyClock::now();
  auto created = api.Call("POST", "/v1/deployments", json::serialize(body));
  if (!created) {
    out.reason = "deploy refused: " + created.error().message();
    term.Line(term.Red("   " + out.reason));
    return out;
  }
  out.id = Str(*created, "id");
  std::optional<core::Timestamp> start;
  if (auto t = core::ParseRfc3339(Str(*created, "created_at"))) start = *t;
  term.Line(Format("   deployment %s: %s \u2192 %s, canary starts at %s", out.id.c_str(),
                   Str(*created, "production_variant").c_str(),
                   Str(*created, "canary_variant").c_str(),
                   Percent(Num(*created, "canary_weight")).c_str()));
  PrintCheckHeader(term);

  std::int64_t after = 0;
  // The summary's reason is the decisive transition's: into ROLLING_BACK (its
  // cause, not "traffic back on production") or else into the final state.
  bool decided = false;
  auto absorb = [&](const json::value& e) {
    after = std::max<std::int64_t>(after, static_cast<std::int64_t>(Num(e, "seq")));
    const std::string kind = Str(e, "kind");
    const std::string to = Str(e, "to_state");
    if (kind == "check") ++out.checks;
    if (kind == "transition" && !decided && (to == "ROLLING_BACK" || FinalState(to))) {
      out.reason = Str(e, "reason");
      decided = true;
    }
    PrintEvent(term, e, start);
  };
  const loadgen::LoadSnapshot base = load.snapshot();
  loadgen::LoadSnapshot last = base;
  auto last_at = SteadyClock::now();
  double rate = 0;
  bool gave_up = false;
  for (;;) {
    auto events =
        api.Call("GET", "/v1/deployments/" + out.id + "/events?after=" + std::to_string(after));
    if (events) {
      const json::value& list = Field(*events, "events");
      if (list.is_array()) {
        for (const json::value& e : list.get_array()) absorb(e);
      }
    }
    auto d = api.Call("GET", "/v1/deployments/" + out.id);
    const std::string state = d ? Str(*d, "state") : "";
    if (FinalState(state)) {
      // The final transition may have landed after the events were read.
      if (events) {
        auto rest =
            api.Call("GET", "/v1/deployments/" + out.id + "/events?after=" + std::to_string(after));
        if (rest && Field(*rest, "events").is_array()) {
          for (const json::value& e : Field(*rest, "events").get_array()) absorb(e);
        }
      }
      out.final_state = state;
      break;
    }
    if (g_interrupted != 0) {
      out.reason = "interrupted";
      break;
    }
    if (SteadyClock::now() - started > limit && !gave_up) {
      // Never leave a rollout half done: roll it back and report it as stuck.
      gave_up = true;
      out.reason = Format("not finished after %.0fs", std::chrono::duration<double>(limit).count());
      term.Line(term.Red("   " + out.reason + "; rolling it back"));
      (void)api.Call("POST", "/v1/deployments/" + out.id + "/rollback");
    }
    std::this_thread::sleep_for(250ms);
    const auto now = SteadyClock::now();
    const loadgen::LoadSnapshot snap = load.snapshot();
    const double dt = std::chrono::duration<double>(now - last_at).count();
    if (dt >= 1.0) {
      rate = static_cast<double>(snap.answers - last.answers) / dt;
      last = snap;
      last_at = now;
    }
    term.Status(term.Dim(TrafficLine(snap, base, rate)));
  }
  term.EndStatus();
  out.seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
  if (gave_up && !out.final_state.empty()) out.final_state += " (forced)";
  const bool as_expected = out.final_state == out.expected;
  term.Line(Format("   %s %s in %s after %d checks", as_expected ? "\u2714" : "\u2718",
                   out.id.c_str(), Seconds(out.seconds).c_str(), out.checks) +
            " \u2014 " +
            StateColored(term, out.final_state.empty() ? "UNFINISHED" : out.final_state) +
            (as_expected ? "" : term.Red(" (expected " + out.expected + ")")));
  return out;
}

void PrintSummary(Terminal& term, const std::vector<Outcome>& outcomes) {
  term.Line("");
  term.Line(term.Bold("Summary"));
  term.Line(term.Dim(Format("  %-22s %-13s %-13s %8s %7s  %s", "DEPLOYMENT", "MODEL", "FINAL STATE",
                            "TIME", "CHECKS", "REASON")));
  for (const Outcome& o : outcomes) {
    const std::string state = o.final_state.empty() ? "UNFINISHED" : o.final_state;
    const bool ok = o.final_state == o.expected;
    std::string padded = Format("%-13s", state.c_str());
    std::string line =
        Format("  %-22s %-13s ", o.id.empty() ? "-" : o.id.c_str(), o.model_file.c_str());
    line += (ok ? term.Green(padded) : term.Red(padded));
    line += Format(" %8s %7d  ", Seconds(o.seconds).c_str(), o.checks);
    line += o.reason;
    if (!ok) line += term.Red(" [expected " + o.expected + "]");
    term.Line(line);
  }
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

}  // namespace

int RunDemo(const DemoOptions& options) {
  Terminal term;
  auto fail = [&](const std::string& message) {
    std::fprintf(stderr, "mlcanary demo: %s\n", message.c_str());
    return 1;
  };
  auto models = FindModels(options.models_dir);
  if (!models) return fail(models.error().message());
  auto made = MakeDataDir();
  if (!made) return fail(made.error().message());
  DemoScope scope;
  DataDir data(*made, options.keep);
  const auto demo_started = SteadyClock::now();

  const core::Policy policy = DemoPolicy(options.fast);
  config::ServiceConfig config;
  config.source = "mlcanary demo";
  config.inference_listen = "127.0.0.1:0";
  config.control_listen = "127.0.0.1:0";
  config.store = "sqlite:" + (data.path() / "mlcanary.db").string();
  config.controller_interval = 1s;
  config.endpoints.push_back(config::EndpointConfig{
      .name = kEndpoint,
      .variants = {core::Variant{.name = "recs-v1",
                                 .weight = 1.0,
                                 .instances = 1,
                                 .model = {.kind = core::ModelKind::kXgboost,
                                           .path = (*models / "recs-v1.json").string()}}},
      .policy = policy});
  if (auto s = core::ValidatePolicy(policy); !s) return fail(s.error().message());

  term.Line(term.Bold("mlcanary demo") +
            " \u2014 three canary rollouts on live traffic, time compressed");
  term.Line(term.Dim("   models    " + models->string()));
  term.Line(
      term.Dim("   data dir  " + data.path().string() +
               (options.keep ? " (kept: --keep)" : " (removed at the end; --keep keeps it)")));
  term.Line("   starting the service (SQLite store, in-process XGBoost, controller every 1s)...");

  ServiceOptions service_options;
  service_options.admin_token = NewToken();
  auto event_log = std::make_shared<EventLogFile>(data.path() / "events.jsonl");
  service_options.event_log = [event_log](std::string_view line) { event_log->Write(line); };
  auto service = Service::Start(config, service_options);
  if (!service) return fail("the service did not start: " + service.error().message());

  const std::string control_url = "http://127.0.0.1:" + std::to_string((*service)->control_port());
  const std::string inference_url =
      "http://127.0.0.1:" + std::to_string((*service)->inference_port());
  term.Line("   inference  " + term.Bold(inference_url) + "/v1/endpoints/recs/invocations");
  term.Line("   control    " + term.Bold(control_url) + "  (admin token " +
            service_options.admin_token + ")");
  term.Line("   dashboard  " + term.Bold(term.Cyan(control_url + "/")) +
            "  \u2014 open it while the demo runs");
  term.Line(term.Dim("   CLI        MLCANARY_URL=" + control_url +
                     " MLCANARY_API_TOKEN=" + service_options.admin_token + " mlcanary list"));
  term.Line(Format(
      "   policy     steps 10%% \u2192 30%% \u2192 60%% \u2192 100%%, a check every "
      "1s, %llds healthy at each step, >= %lld canary requests per check;",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(policy.bake).count()),
      static_cast<long long>(policy.min_invocations)));
  term.Line(
      Format("              rollback after %d error-breached checks in a row (error rate "
             ">= %.0f%%) or %d latency-breached (p99 >= %.0fms, or >= %.0fms and >= %.0f\u00d7 "
             "production)",
             policy.error_breaches_to_rollback, policy.max_error_rate * 100,
             policy.latency_breaches_to_rollback, policy.max_p99_ms,
             policy.latency_ratio_min_p99_ms, policy.max_latency_ratio));

  loadgen::LoadOptions load_options;
  load_options.port = (*service)->inference_port();
  load_options.endpoint = kEndpoint;
  load_options.threads = 4;
  load_options.rate_per_second = 400;
  load_options.users = 1000;
  loadgen::LoadGenerator load(load_options);
  std::vector<Outcome> outcomes;
  int status = 1;
  if (auto s = load.Start(); !s) {
    (*service)->Stop();
    return fail("traffic: " + s.error().message());
  }
  term.Line(
      Format("   traffic    %.0f requests/s from %d keep-alive connections, %d users, 8 "
             "features each",
             load_options.rate_per_second, load_options.threads, load_options.users));

  // Production answers first, so that the first check has its p99 to compare with.
  const auto warmup_end = SteadyClock::now() + (options.fast ? 1s : 2s);
  const auto warmup_limit = SteadyClock::now() + 15s;
  while (g_interrupted == 0 && SteadyClock::now() < warmup_limit &&
         (SteadyClock::now() < warmup_end || load.snapshot().answers == 0)) {
    std::this_thread::sleep_for(100ms);
  }
  if (load.snapshot().answers == 0 && g_interrupted == 0) {
    load.Stop();
    (*service)->Stop();
    return fail("no answers from the gateway at " + inference_url + " after 15s");
  }

  client::ApiClient api({.base_url = control_url, .token = service_options.admin_token});
  const std::vector<Scenario> scenarios = {
      {"recs-v2.ubj", "recs-v2", "retrained on fresher data, same 8 features", "COMPLETED"},
      {"recs-v3.json", "recs-v3", "expects 12 features: every request it gets is a 400",
       "ROLLED_BACK"},
      {"recs-v4.json", "recs-v4", "1500 deep DART trees: correct but far slower", "ROLLED_BACK"},
  };
  for (std::size_t i = 0; i < scenarios.size() && g_interrupted == 0; ++i) {
    outcomes.push_back(RunRollout(term, api, load, *models, scenarios[i], static_cast<int>(i) + 1,
                                  static_cast<int>(scenarios.size()), 90s));
    // Let the split settle on the new production before the next canary.
    if (i + 1 < scenarios.size()) std::this_thread::sleep_for(options.fast ? 500ms : 1500ms);
  }

  load.Stop();
  const loadgen::LoadSnapshot traffic = load.snapshot();
  (*service)->Stop();

  PrintSummary(term, outcomes);
  std::string by_variant;
  for (const auto& [variant, counts] : traffic.variants) {
    by_variant += Format(
        "%s%s %llu (%llu errors)", by_variant.empty() ? "" : ", ",
        variant.empty() ? "?" : variant.c_str(), static_cast<unsigned long long>(counts.total()),
        static_cast<unsigned long long>(counts.errors_4xx() + counts.errors_5xx()));
  }
  term.Line(Format("  traffic: %llu requests answered",
                   static_cast<unsigned long long>(traffic.answers)) +
            (by_variant.empty() ? "" : " \u2014 " + by_variant) +
            (traffic.transport_errors > 0
                 ? Format("; %llu connection errors",
                          static_cast<unsigned long long>(traffic.transport_errors))
                 : ""));

  bool as_expected = outcomes.size() == scenarios.size();
  for (const Outcome& o : outcomes) as_expected = as_expected && o.final_state == o.expected;
  const double total = std::chrono::duration<double>(SteadyClock::now() - demo_started).count();
  term.Line("");
  if (g_interrupted != 0) {
    term.Line(term.Yellow("Interrupted."));
    status = 130;
  } else if (as_expected) {
    term.Line(term.Green(term.Bold("\u2714 All three rollouts ended as expected")) + " in " +
              Seconds(total) + ": COMPLETED, ROLLED_BACK (errors), ROLLED_BACK (latency).");
    status = 0;
  } else {
    term.Line(term.Red(term.Bold("\u2718 Not every rollout ended as expected")) + " (" +
              Seconds(total) + ").");
    status = 1;
  }
  term.Line(options.keep ? "Data kept in " + data.path().string() +
                               " (mlcanary.db, events.jsonl). Nothing is left running."
                         : "Service stopped, traffic stopped, data directory removed.");
  term.Line(
      "Next: README.md \"Run the service\" for `mlcanary serve` and `mlcanary deploy --wait`.");
  return status;
}

}  // namespace mlcanary::app
