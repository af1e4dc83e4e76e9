// CloudWatchMetricsSource: core::MetricsSource on CloudWatch GetMetricData, the
// design document's monitoring service: SageMaker's per-variant invocation,
// error and latency metrics for one check window, in one call.
#ifndef MLCANARY_SAGEMAKER_CLOUDWATCH_METRICS_SOURCE_H_
#define MLCANARY_SAGEMAKER_CLOUDWATCH_METRICS_SOURCE_H_

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "aws/aws_client.h"
#include "core/ports.h"

namespace mlcanary::sagemaker {

// The variant names of an endpoint.
using VariantLister =
    std::function<core::Result<std::vector<std::string>>(std::string_view endpoint)>;

// A lister backed by `traffic`'s DescribeEndpoint (borrowed; must outlive it).
VariantLister VariantsFrom(core::TrafficControl& traffic);

// The window CloudWatch is asked for: start floored and end ceiled to the
// minute; period = end - start, so each query answers one aggregate datapoint.
struct MetricsWindow {
  core::Timestamp start{};
  core::Timestamp end{};
  int period_seconds = 0;  // a multiple of 60, >= 60
};
core::Result<MetricsWindow> AlignWindow(core::Timestamp start, core::Timestamp end);

// Per variant, from AWS/SageMaker (dimensions EndpointName, VariantName):
// Invocations, Invocation4XXErrors, Invocation5XXErrors (Sum), ModelLatency
// p50/p90/p99 plus Average and Maximum, OverheadLatency (Average); from
// /aws/sagemaker/Endpoints: CPUUtilization and MemoryUtilization (Average).
// Latencies arrive in microseconds and are returned in milliseconds.
//  - No Invocations datapoint: no traffic (invocations 0), whatever else came back.
//  - Invocations > 0 but no percentile: p99 falls back to Maximum and p50/p90 to
//    Average (accounts where percentiles are not published); no ModelLatency at
//    all is kUnavailable (CloudWatch lags behind), never a latency of 0.
//  - A query answered InternalError: kUnavailable; Forbidden: kPermissionDenied.
// Thread-safe. Borrows the CloudWatch client (CloudWatchService()).
class CloudWatchMetricsSource final : public core::MetricsSource {
 public:
  CloudWatchMetricsSource(aws::AwsClient& cloudwatch, VariantLister variants)
      : cloudwatch_(cloudwatch), variants_(std::move(variants)) {}

  core::Result<std::map<std::string, core::WindowMetrics>> Snapshot(std::string_view endpoint,
                                                                    core::Timestamp start,
                                                                    core::Timestamp end) override;

  static constexpr int kMaxPages = 50;  // NextToken pages per Snapshot

 private:
  aws::AwsClient& cloudwatch_;
  const VariantLister variants_;
};

}  // namespace mlcanary::sagemaker

#endif  // MLCANARY_SAGEMAKER_CLOUDWATCH_METRICS_SOURCE_H_
