// GetMetricData (JSON 1.0): one query per variant and statistic, paged with NextToken.
#include "sagemaker/cloudwatch_metrics_source.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cmath>
#include <numeric>
#include <optional>

#include "sagemaker/internal/json_fields.h"

namespace mlcanary::sagemaker {
namespace {

using internal::ArrayField;
using internal::StringField;

constexpr std::string_view kSageMaker = "AWS/SageMaker";
constexpr std::string_view kEndpoints = "/aws/sagemaker/Endpoints";
constexpr std::size_t kMaxQueries = 500;  // GetMetricData's limit per call

enum class Fold { kSum, kAverage, kMax };

struct Query {
  std::string_view suffix;  // query id: v<index>_<suffix>
  std::string_view name_space;
  std::string_view metric;
  std::string_view stat;
  Fold fold;
};

constexpr Query kQueries[] = {
    {"inv", kSageMaker, "Invocations", "Sum", Fold::kSum},
    {"e4xx", kSageMaker, "Invocation4XXErrors", "Sum", Fold::kSum},
    {"e5xx", kSageMaker, "Invocation5XXErrors", "Sum", Fold::kSum},
    {"p50", kSageMaker, "ModelLatency", "p50", Fold::kMax},
    {"p90", kSageMaker, "ModelLatency", "p90", Fold::kMax},
    {"p99", kSageMaker, "ModelLatency", "p99", Fold::kMax},
    {"lat_avg", kSageMaker, "ModelLatency", "Average", Fold::kAverage},
    {"lat_max", kSageMaker, "ModelLatency", "Maximum", Fold::kMax},
    {"ovh", kSageMaker, "OverheadLatency", "Average", Fold::kAverage},
    {"cpu", kEndpoints, "CPUUtilization", "Average", Fold::kAverage},
    {"mem", kEndpoints, "MemoryUtilization", "Average", Fold::kAverage},
};

std::string QueryId(std::size_t variant_index, std::string_view suffix) {
  return "v" + std::to_string(variant_index) + "_" + std::string(suffix);
}

std::int64_t EpochSeconds(core::Timestamp t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::optional<double> FoldValues(const std::vector<double>& values, Fold fold) {
  if (values.empty()) return std::nullopt;
  switch (fold) {
    case Fold::kSum:
      return std::accumulate(values.begin(), values.end(), 0.0);
    case Fold::kAverage:
      return std::accumulate(values.begin(), values.end(), 0.0) /
             static_cast<double>(values.size());
    case Fold::kMax:
      return *std::max_element(values.begin(), values.end());
  }
  return std::nullopt;
}

double MicrosToMillis(double us) { return us / 1000.0; }

}  // namespace

VariantLister VariantsFrom(core::TrafficControl& traffic) {
  return [&traffic](std::string_view endpoint) -> core::Result<std::vector<std::string>> {
    auto described = traffic.DescribeEndpoint(endpoint);
    if (!described) return std::unexpected(described.error());
    std::vector<std::string> names;
    for (const core::Variant& v : described->variants) names.push_back(v.name);
    return names;
  };
}

core::Result<MetricsWindow> AlignWindow(core::Timestamp start, core::Timestamp end) {
  if (end <= start) {
    return core::ValidationError("metrics window end " + core::FormatRfc3339(end) +
                                 " is not after its start " + core::FormatRfc3339(start));
  }
  MetricsWindow w;
  w.start = std::chrono::floor<std::chrono::minutes>(start);
  w.end = std::chrono::ceil<std::chrono::minutes>(end);
  w.period_seconds = static_cast<int>(EpochSeconds(w.end) - EpochSeconds(w.start));
  return w;
}

namespace {

using QueryValues = std::map<std::string, std::vector<double>>;  // by query id

// One GetMetricData request: every statistic of kQueries for every variant.
boost::json::object MetricDataRequest(std::string_view endpoint,
                                      const std::vector<std::string>& variants,
                                      const MetricsWindow& window) {
  boost::json::array queries;
  for (std::size_t i = 0; i < variants.size(); ++i) {
    boost::json::array dimensions{
        boost::json::object{{"Name", "EndpointName"}, {"Value", std::string(endpoint)}},
        boost::json::object{{"Name", "VariantName"}, {"Value", variants[i]}}};
    for (const Query& q : kQueries) {
      boost::json::object metric{
          {"Namespace", q.name_space}, {"MetricName", q.metric}, {"Dimensions", dimensions}};
      boost::json::object stat{
          {"Metric", std::move(metric)}, {"Period", window.period_seconds}, {"Stat", q.stat}};
      queries.push_back(boost::json::object{
          {"Id", QueryId(i, q.suffix)}, {"MetricStat", std::move(stat)}, {"ReturnData", true}});
    }
  }
  boost::json::object request;
  request["StartTime"] = EpochSeconds(window.start);
  request["EndTime"] = EpochSeconds(window.end);
  request["ScanBy"] = "TimestampAscending";
  request["MetricDataQueries"] = std::move(queries);
  return request;
}

// Adds one page's MetricDataResults to `values`; a query CloudWatch could not
// answer is an error (never a verdict from partial data).
core::Status AddResults(const boost::json::object& answer, const std::string& what,
                        QueryValues& values) {
  const boost::json::array* results = ArrayField(answer, "MetricDataResults");
  if (results == nullptr) return core::Ok();
  for (const auto& item : *results) {
    if (!item.is_object()) continue;
    const boost::json::object& result = item.get_object();
    const std::string id = StringField(result, "Id").value_or("");
    const std::string status = StringField(result, "StatusCode").value_or("Complete");
    if (status == "InternalError") {
      return core::MakeError(core::ErrorCode::kUnavailable,
                             what + ": CloudWatch answered InternalError for query " + id);
    }
    if (status == "Forbidden") {
      return core::MakeError(core::ErrorCode::kPermissionDenied,
                             what + ": CloudWatch answered Forbidden for query " + id);
    }
    std::vector<double>& into = values[id];
    if (const boost::json::array* list = ArrayField(result, "Values")) {
      for (const auto& v : *list) {
        if (v.is_number()) into.push_back(v.to_number<double>());
      }
    }
  }
  return core::Ok();
}

// Every page of GetMetricData (NextToken), at most CloudWatchMetricsSource::kMaxPages.
core::Result<QueryValues> FetchMetricData(aws::AwsClient& cloudwatch, boost::json::object request,
                                          const std::string& what) {
  QueryValues values;
  for (int page = 1;; ++page) {
    auto r = cloudwatch.CallJson("GetMetricData", request);
    if (!r) return std::unexpected(r.error().WithContext(what));
    if (!r->is_object())
      return core::InternalError(what + ": GetMetricData answer is not an object");
    const boost::json::object& answer = r->get_object();
    if (auto s = AddResults(answer, what, values); !s) return std::unexpected(s.error());
    const auto token = StringField(answer, "NextToken");
    if (!token || token->empty()) return values;
    if (page >= CloudWatchMetricsSource::kMaxPages) {
      return core::MakeError(core::ErrorCode::kUnavailable,
                             what + ": GetMetricData still paging after " +
                                 std::to_string(CloudWatchMetricsSource::kMaxPages) + " pages");
    }
    request["NextToken"] = *token;
  }
}

// The window of variant `index` from the folded query values. Invocations
// without a latency datapoint yet is an error: CloudWatch has not caught up.
core::Result<core::WindowMetrics> VariantWindow(const QueryValues& values, std::size_t index,
                                                const std::string& variant,
                                                const std::string& what) {
  auto get = [&](std::string_view suffix) -> std::optional<double> {
    for (const Query& q : kQueries) {
      if (q.suffix != suffix) continue;
      auto it = values.find(QueryId(index, suffix));
      return it == values.end() ? std::nullopt : FoldValues(it->second, q.fold);
    }
    return std::nullopt;
  };
  core::WindowMetrics m;
  m.invocations = std::llround(get("inv").value_or(0.0));
  if (m.invocations > 0) {
    m.errors_4xx = std::llround(get("e4xx").value_or(0.0));
    m.errors_5xx = std::llround(get("e5xx").value_or(0.0));
    const std::optional<double> average = get("lat_avg");
    const std::optional<double> maximum = get("lat_max");
    const std::optional<double> p99 = get("p99") ? get("p99") : maximum;
    if (!p99) {
      return core::MakeError(core::ErrorCode::kUnavailable,
                             what + ": variant '" + variant + "' has " +
                                 std::to_string(m.invocations) +
                                 " invocations but no ModelLatency datapoint yet");
    }
    m.p99_ms = MicrosToMillis(*p99);
    m.p90_ms = MicrosToMillis(get("p90").value_or(average.value_or(*p99)));
    m.p50_ms = MicrosToMillis(get("p50").value_or(average.value_or(*p99)));
    m.overhead_ms = MicrosToMillis(get("ovh").value_or(0.0));
  }
  m.cpu_utilization = get("cpu");
  m.memory_utilization = get("mem");
  return m;
}

}  // namespace

core::Result<std::map<std::string, core::WindowMetrics>> CloudWatchMetricsSource::Snapshot(
    std::string_view endpoint, core::Timestamp start, core::Timestamp end) {
  auto window = AlignWindow(start, end);
  if (!window) return std::unexpected(window.error());
  auto variants = variants_(endpoint);
  if (!variants) return std::unexpected(variants.error());
  std::map<std::string, core::WindowMetrics> out;
  if (variants->empty()) return out;
  if (variants->size() * std::size(kQueries) > kMaxQueries) {
    return core::ValidationError("endpoint '" + std::string(endpoint) + "' has " +
                                 std::to_string(variants->size()) +
                                 " variants, too many for one GetMetricData call");
  }
  const std::string what = "metrics of endpoint '" + std::string(endpoint) + "'";
  auto values = FetchMetricData(cloudwatch_, MetricDataRequest(endpoint, *variants, *window), what);
  if (!values) return std::unexpected(values.error());
  for (std::size_t i = 0; i < variants->size(); ++i) {
    auto m = VariantWindow(*values, i, (*variants)[i], what);
    if (!m) return std::unexpected(m.error());
    out[(*variants)[i]] = *m;
  }
  return out;
}

}  // namespace mlcanary::sagemaker
