// Window metrics implied by a scenario.
#include "sim/scenario_metrics_source.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "core/stats.h"

namespace mlcanary::sim {
namespace {

// Rounds to 3 significant digits: the simulator's histogram buckets.
double Bucket(double v) {
  if (v == 0 || !std::isfinite(v)) return v;
  const double scale = std::pow(10.0, 2 - std::floor(std::log10(std::fabs(v))));
  return std::round(v * scale) / scale;
}

// Adds `n` samples at the quantiles (i + 0.5) / n of `quantile` as sorted
// (value, count) buckets: a deterministic sample of the distribution.
template <typename F>
std::vector<core::ValueCount> Sample(std::int64_t n, F quantile) {
  std::vector<core::ValueCount> out;
  for (std::int64_t i = 0; i < n; ++i) {
    const double v = Bucket(quantile((static_cast<double>(i) + 0.5) / static_cast<double>(n)));
    if (!out.empty() && out.back().value == v) {
      ++out.back().count;
    } else {
      out.push_back({v, 1});
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.value < b.value; });
  // Merge equal values that sorting brought together (a non-monotone quantile).
  std::vector<core::ValueCount> merged;
  for (const auto& b : out) {
    if (!merged.empty() && merged.back().value == b.value) {
      merged.back().count += b.count;
    } else {
      merged.push_back(b);
    }
  }
  return merged;
}

// The latency at quantile q: piecewise linear through (0, p50 / 2), (0.5,
// p50), (0.9, p90), (0.99, p99) and (1, p99 * 1.25).
double LatencyAt(double q, double p50, double p90, double p99) {
  const std::array<std::pair<double, double>, 5> points = {
      {{0, p50 / 2}, {0.5, p50}, {0.9, p90}, {0.99, p99}, {1, p99 * 1.25}}};
  for (std::size_t k = 1; k < points.size(); ++k) {
    if (q <= points[k].first) {
      const auto [q0, v0] = points[k - 1];
      const auto [q1, v1] = points[k];
      return v0 + (v1 - v0) * (q - q0) / (q1 - q0);
    }
  }
  return points.back().second;
}

// The standard normal quantile at q, by bisection on core::NormalUpperTail,
// from a table of 4096 points.
double NormalQuantile(double q) {
  static const std::array<double, 4096> table = [] {
    std::array<double, 4096> t{};
    for (std::size_t i = 0; i < t.size(); ++i) {
      const double target = (static_cast<double>(i) + 0.5) / static_cast<double>(t.size());
      double lo = -10, hi = 10;
      for (int it = 0; it < 80; ++it) {
        const double mid = (lo + hi) / 2;
        (1 - core::NormalUpperTail(mid) < target ? lo : hi) = mid;
      }
      t[i] = (lo + hi) / 2;
    }
    return t;
  }();
  const auto i = std::min<std::size_t>(
      table.size() - 1, static_cast<std::size_t>(q * static_cast<double>(table.size())));
  return table[i];
}

// Samples the simulator generates per window at most; counts beyond scale.
constexpr std::int64_t kMaxSamples = 20'000;

}  // namespace

ScenarioMetricsSource::ScenarioMetricsSource(const Scenario& scenario,
                                             core::TrafficControl& traffic, core::Timestamp start,
                                             std::string production_variant,
                                             std::string canary_variant)
    : scenario_(scenario),
      traffic_(traffic),
      start_(start),
      production_variant_(std::move(production_variant)),
      canary_variant_(std::move(canary_variant)) {}

core::Result<std::map<std::string, core::WindowMetrics>> ScenarioMetricsSource::Snapshot(
    std::string_view endpoint, core::Timestamp start, core::Timestamp end) {
  auto described = traffic_.DescribeEndpoint(endpoint);
  if (!described) return std::unexpected(described.error());
  const double window_minutes = core::ToMinutes(end - start);
  const double start_minute = core::ToMinutes(start - start_);
  // In a shadow the canary answers copies of production's sampled requests.
  const std::optional<core::ShadowSpec> shadow = traffic_.DescribeShadow(endpoint);
  double production_weight = 0;
  for (const core::Variant& v : described->variants) {
    if (v.name == production_variant_) production_weight = v.weight;
  }
  std::map<std::string, core::WindowMetrics> out;
  for (const core::Variant& v : described->variants) {
    const std::vector<Phase>* phases = nullptr;
    if (v.name == canary_variant_) phases = &scenario_.canary;
    if (v.name == production_variant_) phases = &scenario_.production;
    if (phases == nullptr) continue;
    const Phase& phase = PhaseAt(*phases, start_minute);
    core::WindowMetrics m;
    // Shadow: the canary's only traffic is the copies. Split-phase mirroring
    // (mirror_to): its own traffic, and a sampled share of every request paired.
    const bool mirrored = shadow && !shadow->mirror_to.empty() && shadow->variant == v.name;
    const bool shadowed = shadow && shadow->mirror_to.empty() && shadow->variant == v.name;
    const double share = shadowed ? production_weight * shadow->sample : v.weight;
    m.invocations = std::llround(scenario_.traffic_per_minute * share * window_minutes);
    m.errors_5xx = std::llround(phase.error_rate * static_cast<double>(m.invocations));
    if (m.invocations > 0) {
      m.p99_ms = phase.p99_ms;
      m.p90_ms = phase.p90_ms.value_or(phase.p99_ms * 0.8);
      m.p50_ms = phase.p50_ms.value_or(phase.p99_ms * 0.5);
      // Histograms for the ML checks (issue 14): the latency shape the
      // percentiles imply, and the predictions of the answered requests.
      const std::int64_t n = std::min(m.invocations, kMaxSamples);
      m.latency_buckets =
          Sample(n, [&](double q) { return LatencyAt(q, m.p50_ms, m.p90_ms, m.p99_ms); });
      if (phase.prediction_mean) {
        const double mean = *phase.prediction_mean;
        const double sd = phase.prediction_sd.value_or(0.1);
        const std::int64_t answered = std::min(m.invocations - m.errors_5xx, kMaxSamples);
        m.prediction_buckets =
            Sample(answered, [&](double q) { return mean + sd * NormalQuantile(q); });
        m.predictions = answered;
        m.outputs_per_row = 1;
      }
      if (shadowed || mirrored) {
        m.pairs = shadowed ? m.invocations - m.errors_5xx
                           : std::llround(scenario_.traffic_per_minute * window_minutes *
                                          shadow->sample * (1 - phase.error_rate));
        m.pair_disagreements =
            std::llround(phase.paired_disagreement.value_or(0) * static_cast<double>(m.pairs));
        // A disagreeing pair is taken to differ by twice the tolerance, the others by 0.
        m.pair_abs_diff_sum = static_cast<double>(m.pair_disagreements) * 2 * shadow->tolerance;
      }
    }
    out[v.name] = m;
  }
  return out;
}

}  // namespace mlcanary::sim
