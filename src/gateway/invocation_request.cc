// Request body parsing with Boost.JSON into a per-call arena.
#include "gateway/invocation_request.h"

#include <boost/json.hpp>
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

}  // namespace

core::Result<InvocationRequest> ParseInvocationRequest(std::string_view body) {
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
