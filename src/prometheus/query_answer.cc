// Boost.JSON over the query API's answer; every branch that does not find the
// documented shape says which part is wrong.
#include "prometheus/query_answer.h"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <limits>

namespace mlcanary::prometheus {
namespace {

std::unexpected<core::Error> Bad(std::string message) {
  return core::MakeError(core::ErrorCode::kUnavailable, std::move(message));
}

// At most `max` bytes of `text` on one line, for messages.
std::string Excerpt(std::string_view text, std::size_t max = 120) {
  std::string out;
  for (const char c : text.substr(0, max)) {
    const auto b = static_cast<unsigned char>(c);
    out += (b < 0x20 || b == 0x7f) ? ' ' : c;
  }
  if (text.size() > max) out += "...";
  return out;
}

const boost::json::value* Field(const boost::json::object& o, std::string_view key) {
  return o.if_contains(key);
}

}  // namespace

std::optional<double> ParseSampleValue(std::string_view text) {
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "+Inf" || text == "Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  if (text.empty()) return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) {
    return std::nullopt;  // "inf", "nan" and overflows are not how Prometheus writes them
  }
  return v;
}

core::Result<std::vector<Sample>> ParseVectorAnswer(long http_status, std::string_view body) {
  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(body, ec);
  const boost::json::object* root = !ec && doc.is_object() ? &doc.get_object() : nullptr;
  std::string status;
  if (root != nullptr) {
    if (const auto* s = Field(*root, "status"); s != nullptr && s->is_string()) {
      status = std::string(s->get_string());
    }
  }
  if (root != nullptr && status == "error") {
    std::string type = "error";
    std::string message;
    if (const auto* t = Field(*root, "errorType"); t != nullptr && t->is_string()) {
      type = std::string(t->get_string());
    }
    if (const auto* e = Field(*root, "error"); e != nullptr && e->is_string()) {
      message = Excerpt(e->get_string(), 300);
    }
    return Bad("HTTP " + std::to_string(http_status) + ", " + type + ": " + message);
  }
  if (http_status < 200 || http_status > 299) {
    return Bad("HTTP " + std::to_string(http_status) + ": '" + Excerpt(body) + "'");
  }
  if (ec) return Bad("the answer is not JSON: '" + Excerpt(body) + "'");
  if (root == nullptr) return Bad("the answer is not a JSON object: '" + Excerpt(body) + "'");
  if (status != "success") {
    return Bad(status.empty() ? "the answer has no \"status\""
                              : "the answer's status is '" + Excerpt(status) + "'");
  }
  const auto* data = Field(*root, "data");
  if (data == nullptr || !data->is_object()) return Bad("the answer has no \"data\" object");
  const auto* type = Field(data->get_object(), "resultType");
  if (type == nullptr || !type->is_string()) return Bad("the answer has no data.resultType");
  if (type->get_string() != "vector") {
    return Bad("data.resultType is '" + Excerpt(type->get_string()) + "', expected 'vector'");
  }
  const auto* result = Field(data->get_object(), "result");
  if (result == nullptr || !result->is_array()) return Bad("the answer has no data.result array");
  std::vector<Sample> out;
  const boost::json::array& items = result->get_array();
  out.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string at = "data.result[" + std::to_string(i) + "]";
    if (!items[i].is_object()) return Bad(at + " is not an object");
    const boost::json::object& item = items[i].get_object();
    Sample sample;
    const auto* metric = Field(item, "metric");
    if (metric == nullptr || !metric->is_object()) return Bad(at + " has no \"metric\" object");
    for (const auto& [key, value] : metric->get_object()) {
      if (!value.is_string()) {
        return Bad(at + ".metric." + Excerpt(key) + " is not a string");
      }
      sample.labels.emplace(std::string(key), std::string(value.get_string()));
    }
    const auto* value = Field(item, "value");
    if (value == nullptr || !value->is_array() || value->get_array().size() != 2 ||
        !value->get_array()[0].is_number() || !value->get_array()[1].is_string()) {
      return Bad(at + ".value is not [<time>, \"<number>\"]");
    }
    const std::string_view text = value->get_array()[1].get_string();
    const std::optional<double> v = ParseSampleValue(text);
    if (!v) return Bad(at + ".value '" + Excerpt(text) + "' is not a number");
    sample.value = *v;
    out.push_back(std::move(sample));
  }
  return out;
}

core::Result<std::map<std::string, double>> ByVariant(const std::vector<Sample>& samples) {
  std::map<std::string, double> out;
  for (const Sample& s : samples) {
    const auto it = s.labels.find("variant");
    if (it == s.labels.end()) return Bad("a sample has no variant label");
    if (!out.emplace(it->second, s.value).second) {
      return Bad("two samples for variant '" + Excerpt(it->second) + "'");
    }
  }
  return out;
}

}  // namespace mlcanary::prometheus
