// The {"predictions": [...]} fast path and the Boost.JSON reader.
#include "models/internal/upstream_predictions.h"

#include <boost/json.hpp>
#include <charconv>
#include <string>

namespace mlcanary::models::internal {
namespace {

core::Error ModelError(std::string message) {
  return core::Error(core::ErrorCode::kModelError, std::move(message));
}

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The end of a JSON number (RFC 8259 grammar) starting at `p`, or nullptr.
const char* ScanJsonNumber(const char* p, const char* end) {
  if (p != end && *p == '-') ++p;
  if (p == end) return nullptr;
  if (*p == '0') {
    ++p;
  } else if (IsDigit(*p)) {
    while (p != end && IsDigit(*p)) ++p;
  } else {
    return nullptr;
  }
  if (p != end && *p == '.') {
    ++p;
    if (p == end || !IsDigit(*p)) return nullptr;
    while (p != end && IsDigit(*p)) ++p;
  }
  if (p != end && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p != end && (*p == '+' || *p == '-')) ++p;
    if (p == end || !IsDigit(*p)) return nullptr;
    while (p != end && IsDigit(*p)) ++p;
  }
  return p;
}

core::Result<float> JsonNumber(const boost::json::value& v) {
  if (v.is_double()) return static_cast<float>(v.get_double());
  if (v.is_int64()) return static_cast<float>(v.get_int64());
  if (v.is_uint64()) return static_cast<float>(v.get_uint64());
  if (v.is_object()) {
    if (const auto* score = v.get_object().if_contains("score")) return JsonNumber(*score);
  }
  return std::unexpected(ModelError("upstream prediction is not a number"));
}

}  // namespace

bool ParsePredictionsFast(std::string_view body, std::size_t rows, Predictions& out) {
  constexpr std::string_view kKey = "\"predictions\"";
  const char* p = body.data();
  const char* const end = p + body.size();
  auto skip_space = [&] {
    while (p != end && IsJsonSpace(*p)) ++p;
  };
  auto expect = [&](char c) {
    skip_space();
    if (p == end || *p != c) return false;
    ++p;
    return true;
  };
  if (!expect('{')) return false;
  skip_space();
  if (static_cast<std::size_t>(end - p) < kKey.size() || std::string_view(p, kKey.size()) != kKey) {
    return false;
  }
  p += kKey.size();
  if (!expect(':') || !expect('[')) return false;
  out.values.clear();
  out.values.reserve(rows);
  out.rows = rows;
  out.per_row = 1;
  skip_space();
  if (p != end && *p == ']') {
    ++p;
  } else {
    while (true) {
      skip_space();
      const char* number_end = ScanJsonNumber(p, end);
      if (number_end == nullptr) return false;
      double value = 0;
      const auto [last, ec] = std::from_chars(p, number_end, value);
      // Out of a double's range: Boost.JSON's reading decides.
      if (ec != std::errc() || last != number_end) return false;
      out.values.push_back(static_cast<float>(value));
      p = number_end;
      skip_space();
      if (p == end) return false;
      if (*p == ']') {
        ++p;
        break;
      }
      if (*p != ',') return false;
      ++p;
    }
  }
  if (!expect('}')) return false;
  skip_space();
  return p == end && out.values.size() == rows;
}

core::Result<Predictions> ParseJsonPredictions(std::string_view body, std::size_t rows) {
  Predictions out;
  out.rows = rows;
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(body, ec);
  if (ec) return std::unexpected(ModelError("upstream answer is not valid JSON"));
  const boost::json::value* list = &doc;
  if (doc.is_object()) {
    list = doc.get_object().if_contains("predictions");
    if (list == nullptr) {
      return std::unexpected(ModelError("upstream JSON answer has no \"predictions\""));
    }
  }
  if (!list->is_array())
    return std::unexpected(ModelError("upstream predictions are not an array"));
  const auto& array = list->get_array();
  if (array.size() != rows) {
    return std::unexpected(ModelError("upstream returned " + std::to_string(array.size()) +
                                      " predictions for " + std::to_string(rows) + " rows"));
  }
  for (std::size_t i = 0; i < array.size(); ++i) {
    if (array[i].is_array()) {
      const auto& inner = array[i].get_array();
      if (i == 0) out.per_row = inner.size();
      if (inner.size() != out.per_row || inner.empty()) {
        return std::unexpected(ModelError("upstream prediction rows differ in length"));
      }
      for (const auto& v : inner) {
        auto number = JsonNumber(v);
        if (!number) return std::unexpected(number.error());
        out.values.push_back(*number);
      }
    } else {
      if (out.per_row != 1) {
        return std::unexpected(ModelError("upstream prediction rows differ in length"));
      }
      auto number = JsonNumber(array[i]);
      if (!number) return std::unexpected(number.error());
      out.values.push_back(*number);
    }
  }
  return out;
}

}  // namespace mlcanary::models::internal
