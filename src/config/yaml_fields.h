// Typed reading of YAML mappings with errors that name the file, the key path
// and the line: "scenario.yaml: policy.bake (line 3): invalid duration '5x'".
#ifndef MLCANARY_CONFIG_YAML_FIELDS_H_
#define MLCANARY_CONFIG_YAML_FIELDS_H_

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/time.h"

namespace mlcanary::config {

// How a bare number is read where a duration is expected.
enum class BareNumber { kRefused, kMinutes };

// A position in a YAML document: the file and the dotted path to a node.
class YamlPath {
 public:
  YamlPath(std::string file, std::string path) : file_(std::move(file)), path_(std::move(path)) {}
  YamlPath Child(std::string_view key) const;
  YamlPath Index(std::size_t i) const;
  const std::string& path() const { return path_; }

  // "file: path (line N): message" as a ValidationError.
  std::unexpected<core::Error> Fail(const YAML::Node& node, std::string_view message) const;

 private:
  std::string file_;
  std::string path_;
};

// Refuses keys of `map` not in `allowed`, naming the first unknown key.
core::Status CheckKeys(const YAML::Node& map, const YamlPath& at,
                       std::span<const std::string_view> allowed);
core::Status CheckKeys(const YAML::Node& map, const YamlPath& at,
                       std::initializer_list<std::string_view> allowed);
core::Status CheckMap(const YAML::Node& node, const YamlPath& at);

core::Result<double> ReadDouble(const YAML::Node& node, const YamlPath& at);
core::Result<std::int64_t> ReadInt(const YAML::Node& node, const YamlPath& at);
core::Result<bool> ReadBool(const YAML::Node& node, const YamlPath& at);
core::Result<std::string> ReadString(const YAML::Node& node, const YamlPath& at);
core::Result<core::Duration> ReadDuration(const YAML::Node& node, const YamlPath& at,
                                          BareNumber bare);

// Loads a YAML file; a missing file or a syntax error names the file (and line).
// A mapping key given twice is refused, naming its path and line (yaml-cpp
// would keep the first and drop the other silently).
core::Result<YAML::Node> LoadYamlFile(const std::string& path);
core::Result<YAML::Node> LoadYamlString(const std::string& text, const std::string& name);
// The duplicate-key check alone: "name: path.to.key (line N): duplicate key (first at line M)".
core::Status CheckNoDuplicateKeys(const std::string& text, const std::string& name);

}  // namespace mlcanary::config

#endif  // MLCANARY_CONFIG_YAML_FIELDS_H_
