// Typed YAML reading with precise error locations.
#include "config/yaml_fields.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

namespace mlcanary::config {
namespace {

bool IsScalar(const YAML::Node& node) { return node.IsDefined() && node.IsScalar(); }

}  // namespace

YamlPath YamlPath::Child(std::string_view key) const {
  return YamlPath(file_, path_.empty() ? std::string(key) : path_ + "." + std::string(key));
}

YamlPath YamlPath::Index(std::size_t i) const {
  return YamlPath(file_, path_ + "[" + std::to_string(i) + "]");
}

std::unexpected<core::Error> YamlPath::Fail(const YAML::Node& node,
                                            std::string_view message) const {
  std::string text = file_ + ": " + (path_.empty() ? std::string("(top level)") : path_);
  if (node.IsDefined() && node.Mark().line >= 0) {
    text += " (line " + std::to_string(node.Mark().line + 1) + ")";
  }
  text += ": ";
  text += message;
  return core::ValidationError(std::move(text));
}

core::Status CheckMap(const YAML::Node& node, const YamlPath& at) {
  if (!node.IsMap()) return at.Fail(node, "expected a mapping");
  return core::Ok();
}

core::Status CheckKeys(const YAML::Node& map, const YamlPath& at,
                       std::initializer_list<std::string_view> allowed) {
  if (auto s = CheckMap(map, at); !s) return s;
  for (const auto& kv : map) {
    const std::string key = kv.first.Scalar();
    bool known = false;
    for (auto a : allowed) known = known || a == key;
    if (!known) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return at.Child(key).Fail(kv.first, "unknown key (allowed: " + list + ")");
    }
  }
  return core::Ok();
}

core::Result<double> ReadDouble(const YAML::Node& node, const YamlPath& at) {
  if (!IsScalar(node)) return at.Fail(node, "expected a number");
  const std::string& s = node.Scalar();
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) {
    return at.Fail(node, "expected a number, got '" + s + "'");
  }
  if (!std::isfinite(value)) return at.Fail(node, "expected a finite number, got '" + s + "'");
  return value;
}

core::Result<std::int64_t> ReadInt(const YAML::Node& node, const YamlPath& at) {
  if (!IsScalar(node)) return at.Fail(node, "expected an integer");
  const std::string& s = node.Scalar();
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) {
    return at.Fail(node, "expected an integer, got '" + s + "'");
  }
  return value;
}

core::Result<bool> ReadBool(const YAML::Node& node, const YamlPath& at) {
  if (!IsScalar(node)) return at.Fail(node, "expected true or false");
  const std::string& s = node.Scalar();
  if (s == "true") return true;
  if (s == "false") return false;
  return at.Fail(node, "expected true or false, got '" + s + "'");
}

core::Result<std::string> ReadString(const YAML::Node& node, const YamlPath& at) {
  if (!IsScalar(node)) return at.Fail(node, "expected a string");
  return node.Scalar();
}

core::Result<core::Duration> ReadDuration(const YAML::Node& node, const YamlPath& at,
                                          BareNumber bare) {
  if (!IsScalar(node)) return at.Fail(node, "expected a duration such as 500ms, 30s, 10m, 1h");
  const std::string& s = node.Scalar();
  double number = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), number);
  if (ec == std::errc() && end == s.data() + s.size()) {
    if (bare == BareNumber::kRefused) {
      return at.Fail(node, "duration '" + s + "' needs a unit (ms, s, m or h)");
    }
    if (!std::isfinite(number) || number < 0) {
      return at.Fail(node, "duration " + s + " must be >= 0 minutes");
    }
    // The bound core::ParseDuration puts on every duration (1e15 ms).
    if (number * 60'000 > 1e15) return at.Fail(node, "duration " + s + " minutes is too large");
    return core::Duration(static_cast<core::Duration::rep>(std::llround(number * 60'000)));
  }
  auto parsed = core::ParseDuration(s);
  if (!parsed) return at.Fail(node, parsed.error().message());
  return *parsed;
}

core::Result<YAML::Node> LoadYamlString(const std::string& text, const std::string& name) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return core::ValidationError(name + " (line " + std::to_string(e.mark.line + 1) +
                                 "): invalid YAML: " + e.msg);
  }
}

core::Result<YAML::Node> LoadYamlFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return core::NotFoundError(path + ": cannot read file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return LoadYamlString(buffer.str(), path);
}

}  // namespace mlcanary::config
