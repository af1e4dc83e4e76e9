// JsonNearlyEqual: two JSON values equal in structure, strings, booleans and
// numbers, numbers within 4 ULP. Boost.JSON 1.81 does not read every double
// exactly (its number parser is not correctly rounded: 5.5555555555555556e+32,
// JsonWriter's shortest text of a double, reads back one ULP off), so a value
// written and read again may move by an ULP; anything more is a bug.
#ifndef MLCANARY_FUZZ_JSON_EQUAL_H_
#define MLCANARY_FUZZ_JSON_EQUAL_H_

#include <algorithm>
#include <boost/json/value.hpp>
#include <cmath>
#include <limits>
#include <string_view>

#include "codec/domain_json.h"

inline bool JsonNearlyEqual(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_number() && b.is_number()) {
    const double x = a.to_number<double>();
    const double y = b.to_number<double>();
    return x == y || std::fabs(x - y) <= 4 * std::numeric_limits<double>::epsilon() *
                                             std::max(std::fabs(x), std::fabs(y));
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_object()) {
    const auto& p = a.get_object();
    const auto& q = b.get_object();
    if (p.size() != q.size()) return false;
    for (const auto& kv : p) {
      const boost::json::value* other = q.if_contains(kv.key());
      if (other == nullptr || !JsonNearlyEqual(kv.value(), *other)) return false;
    }
    return true;
  }
  if (a.is_array()) {
    const auto& p = a.get_array();
    const auto& q = b.get_array();
    if (p.size() != q.size()) return false;
    for (std::size_t i = 0; i < p.size(); ++i) {
      if (!JsonNearlyEqual(p[i], q[i])) return false;
    }
    return true;
  }
  return a == b;
}

// The two texts (JSON both) hold nearly equal values.
inline bool JsonTextsNearlyEqual(std::string_view a, std::string_view b) {
  const auto x = mlcanary::codec::ParseJson(a, "a");
  const auto y = mlcanary::codec::ParseJson(b, "b");
  return x && y && JsonNearlyEqual(*x, *y);
}

#endif  // MLCANARY_FUZZ_JSON_EQUAL_H_
