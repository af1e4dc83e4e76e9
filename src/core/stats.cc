// Mann-Whitney U and the population stability index on bucketed samples.
#include "core/stats.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace mlcanary::core {
namespace {

std::int64_t Total(std::span<const ValueCount> s) {
  std::int64_t n = 0;
  for (const ValueCount& b : s) n += b.count;
  return n;
}

}  // namespace

double NormalUpperTail(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

std::optional<MannWhitneyResult> MannWhitneyGreater(std::span<const ValueCount> x,
                                                    std::span<const ValueCount> y) {
  const double n1 = static_cast<double>(Total(x));
  const double n2 = static_cast<double>(Total(y));
  if (n1 <= 0 || n2 <= 0) return std::nullopt;
  const double n = n1 + n2;
  // Walk both sorted samples as one: each distinct value is a tie group whose
  // members share the mean of the ranks they span.
  double rank_sum_x = 0;
  double below = 0;     // samples smaller than the current group
  double tie_term = 0;  // sum of t^3 - t over tie groups
  std::size_t i = 0, j = 0;
  while (i < x.size() || j < y.size()) {
    double value;
    if (j >= y.size() || (i < x.size() && x[i].value <= y[j].value)) {
      value = x[i].value;
    } else {
      value = y[j].value;
    }
    double a = 0, b = 0;
    while (i < x.size() && x[i].value == value) a += static_cast<double>(x[i++].count);
    while (j < y.size() && y[j].value == value) b += static_cast<double>(y[j++].count);
    const double t = a + b;
    if (t == 0) continue;
    const double mid_rank = below + (t + 1) / 2;
    rank_sum_x += a * mid_rank;
    tie_term += t * t * t - t;
    below += t;
  }
  MannWhitneyResult r;
  r.u = rank_sum_x - n1 * (n1 + 1) / 2;
  const double mean = n1 * n2 / 2;
  const double variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)));
  if (!(variance > 0)) {
    // Every sample tied: nothing to tell the two apart.
    r.z = 0;
    r.p = 1;
    return r;
  }
  r.z = (r.u - mean - 0.5) / std::sqrt(variance);
  r.p = NormalUpperTail(r.z);
  return r;
}

std::optional<double> PopulationStability(std::span<const ValueCount> actual,
                                          std::span<const ValueCount> expected) {
  const std::int64_t n_expected = Total(expected);
  const std::int64_t n_actual = Total(actual);
  if (n_expected <= 0 || n_actual <= 0) return std::nullopt;
  // Upper edges (inclusive) of the bins: the bucket where production's
  // cumulative share first reaches k / kPsiBins; equal edges merge.
  std::vector<double> edges;
  std::int64_t cumulative = 0;
  int k = 1;
  for (const ValueCount& b : expected) {
    cumulative += b.count;
    bool edge = false;
    // cumulative / n >= k / bins, in integers.
    while (k < kPsiBins && cumulative * kPsiBins >= static_cast<std::int64_t>(k) * n_expected) {
      edge = true;
      ++k;
    }
    if (edge && cumulative < n_expected) edges.push_back(b.value);
  }
  const std::size_t bins = edges.size() + 1;
  auto bin_of = [&](double value) {
    return static_cast<std::size_t>(std::lower_bound(edges.begin(), edges.end(), value) -
                                    edges.begin());
  };
  std::vector<double> e(bins, 0), a(bins, 0);
  for (const ValueCount& b : expected) e[bin_of(b.value)] += static_cast<double>(b.count);
  for (const ValueCount& b : actual) a[bin_of(b.value)] += static_cast<double>(b.count);
  double psi = 0;
  for (std::size_t i = 0; i < bins; ++i) {
    const double pe = std::max(e[i] / static_cast<double>(n_expected), kPsiFloor);
    const double pa = std::max(a[i] / static_cast<double>(n_actual), kPsiFloor);
    psi += (pa - pe) * std::log(pa / pe);
  }
  return psi;
}

}  // namespace mlcanary::core
