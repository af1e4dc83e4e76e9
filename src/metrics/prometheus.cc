// Prometheus text format 0.0.4: families grouped, HELP and TYPE first, label
// values escaped, histograms as cumulative _bucket{le} with _sum and _count.
#include "metrics/prometheus.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <utility>
#include <vector>

namespace mlcanary::metrics {
namespace {

using Label = std::pair<std::string_view, std::string_view>;

void AppendEscaped(std::string& out, std::string_view text, bool quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void AppendNumber(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void AppendNumber(std::string& out, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void AppendNumber(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  }
}

// Nanoseconds as exact decimal seconds: 2'500'000 -> "0.0025", 10^9 -> "1".
std::string ExactSeconds(std::int64_t ns) {
  std::string s = std::to_string(ns / 1'000'000'000);
  std::int64_t frac = ns % 1'000'000'000;
  if (frac == 0) return s;
  std::string digits = std::to_string(frac);
  digits.insert(0, 9 - digits.size(), '0');
  while (digits.back() == '0') digits.pop_back();
  return s + "." + digits;
}

double Seconds(std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e9; }

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void Family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    AppendEscaped(out_, help, false);
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  template <typename T>
  void Sample(std::string_view name, std::initializer_list<Label> labels, T value,
              std::optional<Label> extra = std::nullopt) {
    out_ += name;
    if (labels.size() > 0 || extra) {
      out_ += '{';
      bool first = true;
      auto add = [&](const Label& l) {
        if (!first) out_ += ',';
        first = false;
        out_ += l.first;
        out_ += "=\"";
        AppendEscaped(out_, l.second, true);
        out_ += '"';
      };
      for (const Label& l : labels) add(l);
      if (extra) add(*extra);
      out_ += '}';
    }
    out_ += ' ';
    AppendNumber(out_, value);
    out_ += '\n';
  }

 private:
  std::string& out_;
};

void Histogram(Writer& w, std::string_view name, const VariantTotals& t,
               const std::array<std::uint64_t, kNumExportBuckets>& buckets,
               std::chrono::nanoseconds sum) {
  static const std::vector<std::string> kLe = [] {
    std::vector<std::string> le;
    for (std::int64_t ns : kExportBucketBoundsNs) le.push_back(ExactSeconds(ns));
    le.push_back("+Inf");
    return le;
  }();
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (int i = 0; i < kNumExportBuckets; ++i) {
    cumulative += buckets[i];
    w.Sample(bucket, {{"endpoint", t.endpoint}, {"variant", t.variant}}, cumulative,
             Label{"le", kLe[i]});
  }
  w.Sample(std::string(name) + "_sum", {{"endpoint", t.endpoint}, {"variant", t.variant}},
           Seconds(sum));
  // _count equals the +Inf bucket by construction (same read).
  w.Sample(std::string(name) + "_count", {{"endpoint", t.endpoint}, {"variant", t.variant}},
           cumulative);
}

constexpr std::array<core::Verdict, kNumVerdicts> kVerdicts = {
    core::Verdict::kHealthy,
    core::Verdict::kInconclusive,
    core::Verdict::kLatencyBreached,
    core::Verdict::kErrorBreached,
    core::Verdict::kLatencyAndErrorBreached,
    core::Verdict::kDivergenceBreached,
    core::Verdict::kAnalysisBreached};
constexpr std::array<core::DeploymentState, kNumDeploymentStates> kStates = {
    core::DeploymentState::kPending,    core::DeploymentState::kInProgress,
    core::DeploymentState::kCompleted,  core::DeploymentState::kRollingBack,
    core::DeploymentState::kRolledBack, core::DeploymentState::kFailed,
    core::DeploymentState::kCancelled};

}  // namespace

void AppendRegistryMetrics(const MetricsRegistry& registry, std::string& out) {
  const std::vector<VariantTotals> totals = registry.Totals();
  Writer w(out);
  auto counter = [&](std::string_view name, std::string_view help, auto field) {
    if (totals.empty()) return;
    w.Family(name, "counter", help);
    for (const VariantTotals& t : totals) {
      w.Sample(name, {{"endpoint", t.endpoint}, {"variant", t.variant}}, field(t));
    }
  };
  counter("mlcanary_invocations_total", "Requests served by the variant.",
          [](const VariantTotals& t) { return t.invocations; });
  counter("mlcanary_invocation_4xx_errors_total", "Requests answered with a 4XX status.",
          [](const VariantTotals& t) { return t.errors_4xx; });
  counter("mlcanary_invocation_5xx_errors_total",
          "Requests answered with a 5XX status (or an invalid one).",
          [](const VariantTotals& t) { return t.errors_5xx; });
  counter("mlcanary_shadow_dropped_total",
          "Shadow copies of production's requests to the variant dropped, the shadow queue full.",
          [](const VariantTotals& t) { return t.shadow_dropped; });
  if (!totals.empty()) {
    w.Family("mlcanary_invalid_samples_total", "counter",
             "Recorded values refused or corrected (latencies not put in histograms).");
    for (const VariantTotals& t : totals) {
      for (int i = 0; i < kNumInvalidSampleKinds; ++i) {
        w.Sample("mlcanary_invalid_samples_total",
                 {{"endpoint", t.endpoint},
                  {"variant", t.variant},
                  {"reason", InvalidSampleName(static_cast<InvalidSample>(i))}},
                 t.invalid[i]);
      }
    }
    w.Family("mlcanary_model_latency_seconds", "histogram",
             "Time the model took to answer a request.");
    for (const VariantTotals& t : totals) {
      Histogram(w, "mlcanary_model_latency_seconds", t, t.model_buckets, t.model_sum);
    }
    w.Family("mlcanary_overhead_latency_seconds", "histogram",
             "Gateway time per request beyond the model's.");
    for (const VariantTotals& t : totals) {
      Histogram(w, "mlcanary_overhead_latency_seconds", t, t.overhead_buckets, t.overhead_sum);
    }
  }
  auto utilization = [&](std::string_view name, std::string_view help, auto field) {
    bool any = false;
    for (const VariantTotals& t : totals) any = any || field(t).has_value();
    if (!any) return;
    w.Family(name, "gauge", help);
    for (const VariantTotals& t : totals) {
      if (auto v = field(t)) {
        w.Sample(name, {{"endpoint", t.endpoint}, {"variant", t.variant}}, *v / 100.0);
      }
    }
  };
  utilization("mlcanary_variant_cpu_utilization_ratio",
              "CPU use of the variant's own process (1 = one core), latest sample.",
              [](const VariantTotals& t) { return t.cpu_utilization; });
  utilization("mlcanary_variant_memory_utilization_ratio",
              "Resident memory of the variant's own process over machine memory.",
              [](const VariantTotals& t) { return t.memory_utilization; });

  if (const auto process = registry.LastProcessUtilization()) {
    w.Family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent.");
    w.Sample("process_cpu_seconds_total", {}, process->stats.cpu_seconds);
    w.Family("process_resident_memory_bytes", "gauge", "Resident memory size.");
    w.Sample("process_resident_memory_bytes", {}, process->stats.resident_bytes);
    if (process->cpu_percent) {
      w.Family("mlcanary_process_cpu_utilization_ratio", "gauge",
               "CPU use of this process between its last two samples (1 = one core).");
      w.Sample("mlcanary_process_cpu_utilization_ratio", {}, *process->cpu_percent / 100.0);
    }
    if (process->memory_percent) {
      w.Family("mlcanary_process_memory_utilization_ratio", "gauge",
               "Resident memory of this process over machine memory.");
      w.Sample("mlcanary_process_memory_utilization_ratio", {}, *process->memory_percent / 100.0);
    }
  }
}

namespace {

// The state, canary weight and pause of each endpoint's latest deployment.
void AppendDeploymentGauges(const std::vector<EndpointRolloutStatus>& endpoints, Writer& w) {
  std::vector<const EndpointRolloutStatus*> deployed;
  for (const auto& e : endpoints) {
    if (e.state) deployed.push_back(&e);
  }
  if (!deployed.empty()) {
    w.Family("mlcanary_deployment_state", "gauge",
             "1 for the state the endpoint's latest deployment is in, 0 for the others.");
    for (const EndpointRolloutStatus* e : deployed) {
      for (core::DeploymentState s : kStates) {
        w.Sample("mlcanary_deployment_state",
                 {{"endpoint", e->endpoint},
                  {"deployment", e->deployment_id},
                  {"state", core::StateName(s)}},
                 std::int64_t{*e->state == s ? 1 : 0});
      }
    }
    w.Family("mlcanary_canary_weight_ratio", "gauge",
             "Share of the endpoint's traffic sent to the canary (0..1).");
    for (const EndpointRolloutStatus* e : deployed) {
      w.Sample("mlcanary_canary_weight_ratio",
               {{"endpoint", e->endpoint}, {"deployment", e->deployment_id}}, e->canary_weight);
    }
    w.Family("mlcanary_deployment_paused", "gauge", "1 while the deployment is paused.");
    for (const EndpointRolloutStatus* e : deployed) {
      w.Sample("mlcanary_deployment_paused",
               {{"endpoint", e->endpoint}, {"deployment", e->deployment_id}},
               std::int64_t{e->paused ? 1 : 0});
    }
  }
}

// The latest verdict, checks by verdict, and failed checks.
void AppendCheckMetrics(const std::vector<EndpointRolloutStatus>& endpoints, Writer& w) {
  bool any_verdict = false;
  for (const auto& e : endpoints) any_verdict = any_verdict || e.last_verdict.has_value();
  if (any_verdict) {
    w.Family("mlcanary_last_check_verdict", "gauge",
             "1 for the verdict of the endpoint's latest health check, 0 for the others.");
    for (const auto& e : endpoints) {
      if (!e.last_verdict) continue;
      for (core::Verdict v : kVerdicts) {
        w.Sample("mlcanary_last_check_verdict",
                 {{"endpoint", e.endpoint}, {"verdict", core::VerdictName(v)}},
                 std::int64_t{*e.last_verdict == v ? 1 : 0});
      }
    }
  }
  w.Family("mlcanary_checks_total", "counter", "Health checks run, by verdict.");
  for (const auto& e : endpoints) {
    for (core::Verdict v : kVerdicts) {
      w.Sample("mlcanary_checks_total",
               {{"endpoint", e.endpoint}, {"verdict", core::VerdictName(v)}},
               e.checks[static_cast<std::size_t>(v)]);
    }
  }
  w.Family("mlcanary_check_errors_total", "counter",
           "Health checks that could not read metrics, apply their decision or record it.");
  for (const auto& e : endpoints) {
    w.Sample("mlcanary_check_errors_total", {{"endpoint", e.endpoint}}, e.check_errors);
  }
  bool any_error = false;
  for (const auto& e : endpoints) any_error = any_error || e.last_check_error_at.has_value();
  if (any_error) {
    w.Family("mlcanary_last_check_error_timestamp_seconds", "gauge",
             "When the endpoint's last failed health check ran (Unix time).");
    for (const auto& e : endpoints) {
      if (!e.last_check_error_at) continue;
      w.Sample("mlcanary_last_check_error_timestamp_seconds", {{"endpoint", e.endpoint}},
               std::chrono::duration<double>(e.last_check_error_at->time_since_epoch()).count());
    }
  }
}

// Unrecorded rollbacks and state changes.
void AppendTransitionCounters(const std::vector<EndpointRolloutStatus>& endpoints, Writer& w) {
  w.Family("mlcanary_unrecorded_rollbacks_total", "counter",
           "Rollbacks and automatic failures whose record the store refused at first: traffic "
           "went to production and the record followed when the store could be written again.");
  for (const auto& e : endpoints) {
    w.Sample("mlcanary_unrecorded_rollbacks_total", {{"endpoint", e.endpoint}},
             e.unrecorded_rollbacks);
  }
  w.Family("mlcanary_transitions_total", "counter", "Deployment state changes, by new state.");
  for (const auto& e : endpoints) {
    for (core::DeploymentState s : kStates) {
      w.Sample("mlcanary_transitions_total",
               {{"endpoint", e.endpoint}, {"state", core::StateName(s)}},
               e.transitions[static_cast<std::size_t>(s)]);
    }
  }
}

}  // namespace

void AppendControllerMetrics(const ControllerStatus& status, std::string& out) {
  const std::vector<EndpointRolloutStatus> endpoints = status.Endpoints();
  if (endpoints.empty()) return;
  Writer w(out);
  AppendDeploymentGauges(endpoints, w);
  AppendCheckMetrics(endpoints, w);
  AppendTransitionCounters(endpoints, w);
}

void AppendHookMetrics(std::span<const core::HookCallCount> counts, std::string& out) {
  if (counts.empty()) return;
  Writer w(out);
  w.Family("mlcanary_hook_calls_total", "counter",
           "Calls of the policies' hooks, by endpoint, hook and how they ended (ok, refused, "
           "unreachable; analysis hooks: their verdict or invalid_answer).");
  for (const core::HookCallCount& c : counts) {
    w.Sample("mlcanary_hook_calls_total",
             {{"endpoint", c.endpoint}, {"hook", c.hook}, {"outcome", c.outcome}}, c.calls);
  }
  w.Family("mlcanary_hook_call_seconds_total", "counter",
           "Time spent in those calls, retries and backoff included.");
  for (const core::HookCallCount& c : counts) {
    w.Sample("mlcanary_hook_call_seconds_total",
             {{"endpoint", c.endpoint}, {"hook", c.hook}, {"outcome", c.outcome}}, c.seconds);
  }
}

std::string RenderPrometheus(const MetricsRegistry& registry, const ControllerStatus* controller) {
  std::string out;
  AppendRegistryMetrics(registry, out);
  if (controller != nullptr) AppendControllerMetrics(*controller, out);
  return out;
}

}  // namespace mlcanary::metrics
