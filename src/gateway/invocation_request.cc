// Request body parsing: a fast path for the common single-row body, and
// Boost.JSON into a per-call arena for everything else (and every error).
#include "gateway/invocation_request.h"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <limits>

namespace mlcanary::gateway {
namespace {

namespace json = boost::json;

core::Status ReadUserId(const json::value& value, std::string_view where, std::string& out) {
  if (value.is_string()) {
    out.assign(value.get_string().data(), value.get_string().size());
    return core::Ok();
  }
  if (value.is_int64()) {
    out = std::to_string(value.get_int64());
    return core::Ok();
  }
  if (value.is_uint64()) {
    out = std::to_string(value.get_uint64());
    return core::Ok();
  }
  return core::ValidationError(std::string(where) + " must be a string");
}

// Appends the row to out.features; checks its length against out.cols.
core::Status ReadFeatures(const json::value& value, std::string_view where,
                          InvocationRequest& out) {
  if (!value.is_array()) {
    return core::ValidationError(std::string(where) + " must be an array of numbers");
  }
  const json::array& array = value.get_array();
  if (array.empty()) return core::ValidationError(std::string(where) + " must not be empty");
  if (out.rows > 0 && array.size() != out.cols) {
    return core::ValidationError(std::string(where) + " has " + std::to_string(array.size()) +
                                 " features, the first instance " + std::to_string(out.cols));
  }
  for (std::size_t i = 0; i < array.size(); ++i) {
    const json::value& v = array[i];
    double d = 0;
    if (v.is_double()) {
      d = v.get_double();
    } else if (v.is_int64()) {
      d = static_cast<double>(v.get_int64());
    } else if (v.is_uint64()) {
      d = static_cast<double>(v.get_uint64());
    } else {
      return core::ValidationError(std::string(where) + "[" + std::to_string(i) +
                                   "] must be a number");
    }
    const auto f = static_cast<float>(d);
    if (!std::isfinite(d) || !std::isfinite(f)) {
      return core::ValidationError(std::string(where) + "[" + std::to_string(i) +
                                   "] is not a finite number");
    }
    out.features.push_back(f);
  }
  out.cols = array.size();
  ++out.rows;
  return core::Ok();
}

// The fast path: {"user_id": "<plain string>", "features": [<numbers>]} in
// any order, either key optional, nothing else. It accepts only bodies that it
// fully understands and that are valid, giving what the general path gives;
// anything else (other keys, escapes, duplicates, "instances", any error) makes
// it return false, and the general path decides and words the error.
class FastBody {
 public:
  explicit FastBody(std::string_view body) : p_(body.data()), end_(body.data() + body.size()) {}

  bool Parse(InvocationRequest& out) {
    SkipSpace();
    if (!Eat('{')) return false;
    bool seen_user = false;
    bool seen_features = false;
    SkipSpace();
    if (Eat('}')) return false;  // no features: the general path words the error
    while (true) {
      std::string_view key;
      if (!String(key)) return false;
      SkipSpace();
      if (!Eat(':')) return false;
      SkipSpace();
      if (key == "user_id" && !seen_user) {
        seen_user = true;
        std::string_view id;
        if (!String(id)) return false;
        out.user_id.assign(id);
      } else if (key == "features" && !seen_features) {
        seen_features = true;
        if (!Features(out)) return false;
      } else {
        return false;
      }
      SkipSpace();
      if (Eat('}')) break;
      if (!Eat(',')) return false;
      SkipSpace();
    }
    SkipSpace();
    return p_ == end_ && seen_features;
  }

 private:
  void SkipSpace() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool Eat(char c) {
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  // A string without escapes or control characters.
  bool String(std::string_view& out) {
    if (!Eat('"')) return false;
    const char* start = p_;
    while (p_ != end_ && *p_ != '"') {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '\\' || c < 0x20 || c >= 0x80) return false;
      ++p_;
    }
    if (p_ == end_) return false;
    out = std::string_view(start, static_cast<std::size_t>(p_ - start));
    ++p_;
    return true;
  }
  // A JSON number (RFC 8259 grammar), finite as a float.
  bool Number(float& out) {
    const char* start = p_;
    if (p_ != end_ && *p_ == '-') ++p_;
    if (p_ == end_) return false;
    if (*p_ == '0') {
      ++p_;
    } else if (*p_ >= '1' && *p_ <= '9') {
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    } else {
      return false;
    }
    if (p_ != end_ && *p_ == '.') {
      ++p_;
      if (p_ == end_ || *p_ < '0' || *p_ > '9') return false;
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || *p_ < '0' || *p_ > '9') return false;
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    double d = 0;
    const auto [ptr, ec] = std::from_chars(start, p_, d);
    if (ec != std::errc() || ptr != p_) return false;
    out = static_cast<float>(d);
    return std::isfinite(d) && std::isfinite(out);
  }
  bool Features(InvocationRequest& out) {
    if (!Eat('[')) return false;
    SkipSpace();
    if (p_ != end_ && *p_ == ']') return false;  // empty: the general path words it
    out.features.reserve(16);
    while (true) {
      float value = 0;
      if (!Number(value)) return false;
      out.features.push_back(value);
      SkipSpace();
      if (Eat(']')) break;
      if (!Eat(',')) return false;
      SkipSpace();
    }
    out.rows = 1;
    out.cols = out.features.size();
    return true;
  }

  const char* p_;
  const char* end_;
};

}  // namespace

core::Result<InvocationRequest> ParseInvocationRequest(std::string_view body) {
  {
    InvocationRequest fast;
    if (FastBody(body).Parse(fast)) return fast;
  }
  // Small bodies parse without touching the heap.
  unsigned char arena[8192];
  json::monotonic_resource resource(arena, sizeof(arena));
  json::parse_options options;
  options.max_depth = 16;
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec, &resource, options);
  if (ec) return core::ValidationError("body is not valid JSON: " + ec.message());
  if (!doc.is_object()) return core::ValidationError("body must be a JSON object");
  const json::object& object = doc.get_object();

  InvocationRequest out;
  if (const json::value* user = object.if_contains("user_id"); user != nullptr) {
    if (auto s = ReadUserId(*user, "user_id", out.user_id); !s) return std::unexpected(s.error());
  }
  const json::value* features = object.if_contains("features");
  const json::value* instances = object.if_contains("instances");
  if (features != nullptr && instances != nullptr) {
    return core::ValidationError("body has both \"features\" and \"instances\"");
  }
  if (features != nullptr) {
    if (auto s = ReadFeatures(*features, "features", out); !s) return std::unexpected(s.error());
    return out;
  }
  if (instances == nullptr) {
    return core::ValidationError("body needs \"features\" or \"instances\"");
  }
  if (!instances->is_array()) return core::ValidationError("instances must be an array");
  const json::array& list = instances->get_array();
  if (list.empty()) return core::ValidationError("instances must not be empty");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string where = "instances[" + std::to_string(i) + "]";
    if (!list[i].is_object()) return core::ValidationError(where + " must be an object");
    const json::object& instance = list[i].get_object();
    if (const json::value* user = instance.if_contains("user_id"); user != nullptr) {
      std::string id;
      if (auto s = ReadUserId(*user, where + ".user_id", id); !s) {
        return std::unexpected(s.error());
      }
      if (out.user_id.empty()) out.user_id = std::move(id);
    }
    const json::value* row = instance.if_contains("features");
    if (row == nullptr) return core::ValidationError(where + " needs \"features\"");
    if (i == 0) out.features.reserve(list.size() * (row->is_array() ? row->get_array().size() : 0));
    if (auto s = ReadFeatures(*row, where + ".features", out); !s) {
      return std::unexpected(s.error());
    }
  }
  return out;
}

}  // namespace mlcanary::gateway
