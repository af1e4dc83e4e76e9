// Typed YAML reading with precise error locations.
#include "config/yaml_fields.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

namespace mlcanary::config {
namespace {

bool IsScalar(const YAML::Node& node) { return node.IsDefined() && node.IsScalar(); }

// "file: path (line N): message", the one format of every YAML error.
std::string Located(const std::string& file, const std::string& path, int line,
                    std::string_view message) {
  std::string text = file + ": " + (path.empty() ? std::string("(top level)") : path);
  if (line >= 0) text += " (line " + std::to_string(line + 1) + ")";
  text += ": ";
  text += message;
  return text;
}

// A pass over the document's events that finds the first mapping key given
// twice. yaml-cpp keeps both pairs and node[key] answers the first, so a
// repeated key would be dropped silently. Events, not the loaded nodes: an
// alias is one event here, where a walk of the nodes would visit the aliased
// mapping once per reference.
class DuplicateKeyFinder final : public YAML::EventHandler {
 public:
  struct Found {
    std::string path;
    int line = -1;        // 0-based, of the second occurrence
    int first_line = -1;  // 0-based
  };

  const std::optional<Found>& found() const { return found_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark, ""); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark, "*"); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string& value) override {
    Node(mark, value);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    stack_.push_back(Frame{.path = Node(mark, std::nullopt), .is_map = false});
  }
  void OnSequenceEnd() override { stack_.pop_back(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    stack_.push_back(Frame{.path = Node(mark, std::nullopt), .is_map = true});
  }
  void OnMapEnd() override { stack_.pop_back(); }

 private:
  struct Frame {
    std::string path;
    bool is_map = false;
    bool expecting_key = true;                     // maps: the next node is a key
    std::string key;                               // maps: the key of the value to come
    std::size_t index = 0;                         // sequences: the next element's index
    std::map<std::string, int, std::less<>> keys;  // maps: key -> line
  };

  // One node starts: returns its path. `scalar` is the text of a scalar (or
  // null) node, nullopt for a collection (which, as a key, compares as none).
  std::string Node(const YAML::Mark& mark, const std::optional<std::string>& scalar) {
    if (stack_.empty()) return "";
    Frame& f = stack_.back();
    if (!f.is_map) {
      return f.path + "[" + std::to_string(f.index++) + "]";
    }
    if (!f.expecting_key) {
      f.expecting_key = true;
      return f.path.empty() ? f.key : f.path + "." + f.key;
    }
    f.expecting_key = false;
    f.key = scalar.value_or("?");
    const std::string path = f.path.empty() ? f.key : f.path + "." + f.key;
    if (scalar) {
      auto [it, inserted] = f.keys.emplace(*scalar, mark.line);
      if (!inserted && !found_) {
        found_ = Found{.path = path, .line = mark.line, .first_line = it->second};
      }
    }
    return path;
  }

  std::vector<Frame> stack_;
  std::optional<Found> found_;
};

}  // namespace

YamlPath YamlPath::Child(std::string_view key) const {
  return YamlPath(file_, path_.empty() ? std::string(key) : path_ + "." + std::string(key));
}

YamlPath YamlPath::Index(std::size_t i) const {
  return YamlPath(file_, path_ + "[" + std::to_string(i) + "]");
}

std::unexpected<core::Error> YamlPath::Fail(const YAML::Node& node,
                                            std::string_view message) const {
  return core::ValidationError(
      Located(file_, path_, node.IsDefined() ? node.Mark().line : -1, message));
}

core::Status CheckMap(const YAML::Node& node, const YamlPath& at) {
  if (!node.IsMap()) return at.Fail(node, "expected a mapping");
  return core::Ok();
}

core::Status CheckKeys(const YAML::Node& map, const YamlPath& at,
                       std::initializer_list<std::string_view> allowed) {
  return CheckKeys(map, at, std::span(allowed.begin(), allowed.size()));
}

core::Status CheckKeys(const YAML::Node& map, const YamlPath& at,
                       std::span<const std::string_view> allowed) {
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

core::Status CheckNoDuplicateKeys(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DuplicateKeyFinder finder;
  parser.HandleNextDocument(finder);  // the first document, the one YAML::Load reads
  if (const auto& found = finder.found()) {
    return core::ValidationError(
        Located(name, found->path, found->line,
                "duplicate key (first at line " + std::to_string(found->first_line + 1) + ")"));
  }
  return core::Ok();
}

core::Result<YAML::Node> LoadYamlString(const std::string& text, const std::string& name) {
  try {
    YAML::Node root = YAML::Load(text);
    if (auto s = CheckNoDuplicateKeys(text, name); !s) return std::unexpected(s.error());
    return root;
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
