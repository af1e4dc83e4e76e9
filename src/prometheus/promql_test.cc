// The PromQL text of a check: quoting, ranges, evaluation times, the queries.
#include "prometheus/promql.h"

#include <gtest/gtest.h>

namespace mlcanary::prometheus {
namespace {

using std::chrono::milliseconds;

TEST(QuoteStringTest, EscapesWhatWouldEndOrBreakTheString) {
  EXPECT_EQ(QuoteString("recs"), R"("recs")");
  EXPECT_EQ(QuoteString(R"(a"b\c)"), R"("a\"b\\c")");
  EXPECT_EQ(QuoteString("a\nb\tc\x7f"), R"("a\nb\x09c\x7f")");
  EXPECT_EQ(QuoteString("\"} or vector(1) #"), R"("\"} or vector(1) #")");
  EXPECT_EQ(QuoteString(""), R"("")");
}

TEST(FormatRangeTest, WholeSecondsElseMilliseconds) {
  EXPECT_EQ(FormatRange(milliseconds(60000)), "60s");
  EXPECT_EQ(FormatRange(milliseconds(1000)), "1s");
  EXPECT_EQ(FormatRange(milliseconds(1500)), "1500ms");
  EXPECT_EQ(FormatRange(milliseconds(1)), "1ms");
}

TEST(FormatEvalTimeTest, UnixSecondsWithMilliseconds) {
  EXPECT_EQ(FormatEvalTime(core::Timestamp(milliseconds(1700000000250))), "1700000000.250");
  EXPECT_EQ(FormatEvalTime(core::Timestamp(milliseconds(1700000000000))), "1700000000.000");
  EXPECT_EQ(FormatEvalTime(core::Timestamp(milliseconds(5))), "0.005");
  EXPECT_EQ(FormatEvalTime(core::Timestamp(milliseconds(-1))), "-1.999");
}

TEST(BuildWindowQueriesTest, SumsAcrossInstancesByVariantOverTheWindow) {
  const WindowQueries q = BuildWindowQueries("recs", "", milliseconds(60000));
  EXPECT_EQ(q.invocations,
            R"(sum by (variant) (increase(mlcanary_invocations_total{endpoint="recs"}[60s])))");
  EXPECT_EQ(q.errors_4xx,
            "sum by (variant) "
            R"((increase(mlcanary_invocation_4xx_errors_total{endpoint="recs"}[60s])))");
  EXPECT_EQ(q.errors_5xx,
            "sum by (variant) "
            R"((increase(mlcanary_invocation_5xx_errors_total{endpoint="recs"}[60s])))");
  EXPECT_EQ(q.p99,
            "histogram_quantile(0.99, sum by (variant, le) "
            R"(((mlcanary_model_latency_seconds_bucket{endpoint="recs"} - )"
            R"(mlcanary_model_latency_seconds_bucket{endpoint="recs"} offset 60s) >= 0 or )"
            R"(increase(mlcanary_model_latency_seconds_bucket{endpoint="recs"}[60s]))))");
  EXPECT_EQ(q.p50,
            "histogram_quantile(0.5, sum by (variant, le) "
            R"(((mlcanary_model_latency_seconds_bucket{endpoint="recs"} - )"
            R"(mlcanary_model_latency_seconds_bucket{endpoint="recs"} offset 60s) >= 0 or )"
            R"(increase(mlcanary_model_latency_seconds_bucket{endpoint="recs"}[60s]))))");
  EXPECT_EQ(q.p90,
            "histogram_quantile(0.9, sum by (variant, le) "
            R"(((mlcanary_model_latency_seconds_bucket{endpoint="recs"} - )"
            R"(mlcanary_model_latency_seconds_bucket{endpoint="recs"} offset 60s) >= 0 or )"
            R"(increase(mlcanary_model_latency_seconds_bucket{endpoint="recs"}[60s]))))");
  EXPECT_EQ(q.overhead,
            "sum by (variant) "
            R"((rate(mlcanary_overhead_latency_seconds_sum{endpoint="recs"}[60s])) / )"
            "sum by (variant) "
            R"((rate(mlcanary_overhead_latency_seconds_count{endpoint="recs"}[60s])))");
  EXPECT_EQ(q.variant_cpu,
            "avg by (variant) "
            R"((avg_over_time(mlcanary_variant_cpu_utilization_ratio{endpoint="recs"}[60s])))");
  EXPECT_EQ(q.variant_memory,
            "avg by (variant) "
            R"((avg_over_time(mlcanary_variant_memory_utilization_ratio{endpoint="recs"}[60s])))");
  EXPECT_EQ(q.process_cpu, "avg(avg_over_time(mlcanary_process_cpu_utilization_ratio[60s]))");
  EXPECT_EQ(q.process_memory, "avg(avg_over_time(mlcanary_process_memory_utilization_ratio[60s]))");
}

TEST(BuildWindowQueriesTest, JobNarrowsEverySelectorAndNamesAreQuoted) {
  const WindowQueries q = BuildWindowQueries("a\"b", "fleet-1", milliseconds(2500));
  EXPECT_EQ(q.invocations,
            "sum by (variant) (increase(mlcanary_invocations_total"
            R"({endpoint="a\"b",job="fleet-1"}[2500ms])))");
  EXPECT_EQ(q.process_cpu,
            R"(avg(avg_over_time(mlcanary_process_cpu_utilization_ratio{job="fleet-1"}[2500ms])))");
}

}  // namespace
}  // namespace mlcanary::prometheus
