// Reading the answers of Prometheus's instant-query API (GET /api/v1/query):
// {"status": "success", "data": {"resultType": "vector", "result": [{"metric":
// {...}, "value": [<unix time>, "<float>"]}, ...]}} or {"status": "error",
// "errorType": "...", "error": "..."}. Every answer not of that shape is an
// error saying what is wrong with it. Pure: no I/O.
#ifndef MLCANARY_PROMETHEUS_QUERY_ANSWER_H_
#define MLCANARY_PROMETHEUS_QUERY_ANSWER_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace mlcanary::prometheus {

struct Sample {
  std::map<std::string, std::string> labels;
  double value = 0;  // may be NaN or ±Inf, as Prometheus answered
};

// The instant vector of an answer with HTTP status `http_status`. Errors
// (kUnavailable, one line): a non-2xx status (with Prometheus's errorType and
// error when the body has them), a body that is not JSON, status not
// "success", resultType not "vector", and any sample not of the shape above.
core::Result<std::vector<Sample>> ParseVectorAnswer(long http_status, std::string_view body);

// Samples by their `variant` label. Error (kUnavailable) when a sample has no
// variant label or two have the same.
core::Result<std::map<std::string, double>> ByVariant(const std::vector<Sample>& samples);

// Prometheus's text of a float: "1.5", "1e-3", "NaN", "+Inf", "-Inf".
// nullopt when `text` is none of these.
std::optional<double> ParseSampleValue(std::string_view text);

}  // namespace mlcanary::prometheus

#endif  // MLCANARY_PROMETHEUS_QUERY_ANSWER_H_
