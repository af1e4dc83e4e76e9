// The statistics of the ML-aware checks (issue 14), pure functions on counts:
//  - a one-sided Mann-Whitney U test on two bucketed latency samples (the
//    statistical latency judge);
//  - the population stability index of a canary's prediction distribution
//    against production's, over quantile bins of production's predictions.
#ifndef MLCANARY_CORE_STATS_H_
#define MLCANARY_CORE_STATS_H_

#include <cstdint>
#include <optional>
#include <span>

namespace mlcanary::core {

// A value and how many samples had it (a histogram bucket). Sorted by value,
// values distinct within one sample.
struct ValueCount {
  double value = 0;
  std::int64_t count = 0;
  bool operator==(const ValueCount&) const = default;
};

struct MannWhitneyResult {
  double u = 0;  // U of the first sample: pairs (x, y) with x > y, plus half the ties
  double z = 0;  // standardized U (tie- and continuity-corrected)
  double p = 1;  // one-sided p-value of "the first sample is stochastically larger"
  bool operator==(const MannWhitneyResult&) const = default;
};

// One-sided Mann-Whitney U test of H1 "x tends to be larger than y" on two
// bucketed samples: every bucket is a group of tied values (mid-ranks), p from
// the normal approximation with the tie correction of the variance and a
// continuity correction of 0.5. nullopt when a sample is empty.
std::optional<MannWhitneyResult> MannWhitneyGreater(std::span<const ValueCount> x,
                                                    std::span<const ValueCount> y);

// P(Z > z) for a standard normal Z.
double NormalUpperTail(double z);

// How many quantile bins PopulationStability cuts production into.
inline constexpr int kPsiBins = 10;
// The share a bin without samples counts as (ln 0 is undefined).
inline constexpr double kPsiFloor = 1e-4;

// Population stability index sum((c - p) * ln(c / p)) of `actual` (the
// canary) against `expected` (production) over kPsiBins bins cut at
// production's deciles. The inputs are fixed-layout histograms whose `value`
// orders the buckets (a bucket index is fine): a bin boundary falls between
// buckets, so deciles inside one bucket merge (a binary classifier's output
// gives two bins). A bin's share below kPsiFloor counts as kPsiFloor.
// nullopt when a sample is empty.
std::optional<double> PopulationStability(std::span<const ValueCount> actual,
                                          std::span<const ValueCount> expected);

}  // namespace mlcanary::core

#endif  // MLCANARY_CORE_STATS_H_
