// Tolerant readers for AWS JSON responses: every member may be absent or null
// (moto writes "RoleARN": null), numbers may arrive as integers or doubles.
#ifndef MLCANARY_SAGEMAKER_INTERNAL_JSON_FIELDS_H_
#define MLCANARY_SAGEMAKER_INTERNAL_JSON_FIELDS_H_

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace mlcanary::sagemaker::internal {

inline const boost::json::value* Member(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

inline std::optional<std::string> StringField(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = Member(o, key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

inline std::optional<double> NumberField(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = Member(o, key);
  if (v == nullptr) return std::nullopt;
  if (v->is_double()) return v->get_double();
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  return std::nullopt;
}

inline const boost::json::array* ArrayField(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = Member(o, key);
  return v != nullptr && v->is_array() ? &v->get_array() : nullptr;
}

inline const boost::json::object* ObjectField(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = Member(o, key);
  return v != nullptr && v->is_object() ? &v->get_object() : nullptr;
}

}  // namespace mlcanary::sagemaker::internal

#endif  // MLCANARY_SAGEMAKER_INTERNAL_JSON_FIELDS_H_
