// `mlcanary serve` configuration.
#include "config/service_config.h"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "config/policy_yaml.h"
#include "config/yaml_fields.h"

namespace mlcanary::config {
namespace {

namespace fs = std::filesystem;

std::string Resolve(const std::string& path, const std::string& base_dir) {
  if (path.empty() || fs::path(path).is_absolute() || base_dir.empty()) return path;
  return (fs::path(base_dir) / path).lexically_normal().string();
}

core::Result<core::ModelSpec> ReadModel(const YAML::Node& node, const YamlPath& at,
                                        const std::string& base_dir) {
  if (auto s = CheckKeys(node, at, {"kind", "path", "url", "timeout"}); !s) {
    return std::unexpected(s.error());
  }
  core::ModelSpec m;
  std::string kind = "xgboost";
  if (node["kind"]) {
    auto k = ReadString(node["kind"], at.Child("kind"));
    if (!k) return std::unexpected(k.error());
    kind = *k;
  }
  auto parsed = core::ParseModelKind(kind);
  if (!parsed) return at.Child("kind").Fail(node["kind"], "'" + kind + "' is not xgboost or http");
  m.kind = *parsed;
  if (m.kind == core::ModelKind::kSagemaker) {
    return at.Child("kind").Fail(node["kind"],
                                 "sagemaker models are not configured here: with backend: "
                                 "sagemaker the variants come from the SageMaker endpoint");
  }
  if (m.kind == core::ModelKind::kXgboost) {
    if (!node["path"]) return at.Fail(node, "missing key path (the model file)");
    auto p = ReadString(node["path"], at.Child("path"));
    if (!p) return std::unexpected(p.error());
    m.path = Resolve(*p, base_dir);
    std::error_code ec;
    if (!fs::is_regular_file(m.path, ec)) {
      return at.Child("path").Fail(node["path"], "model file '" + m.path + "' does not exist");
    }
    if (node["url"]) return at.Child("url").Fail(node["url"], "only for kind http");
  } else {
    if (!node["url"]) return at.Fail(node, "missing key url (the model server)");
    auto u = ReadString(node["url"], at.Child("url"));
    if (!u) return std::unexpected(u.error());
    if (!u->starts_with("http://"))
      return at.Child("url").Fail(node["url"], "must start with http://");
    m.url = *u;
    if (node["timeout"]) {
      auto t = ReadDuration(node["timeout"], at.Child("timeout"), BareNumber::kRefused);
      if (!t) return std::unexpected(t.error());
      if (t->count() <= 0) return at.Child("timeout").Fail(node["timeout"], "must be > 0");
      m.timeout = *t;
    }
    if (node["path"]) return at.Child("path").Fail(node["path"], "only for kind xgboost");
  }
  return m;
}

core::Result<EndpointConfig> ReadEndpoint(const YAML::Node& node, const YamlPath& at,
                                          const std::string& base_dir) {
  if (auto s = CheckKeys(node, at, {"name", "variants", "policy"}); !s) {
    return std::unexpected(s.error());
  }
  EndpointConfig e;
  if (!node["name"]) return at.Fail(node, "missing key name");
  auto name = ReadString(node["name"], at.Child("name"));
  if (!name) return std::unexpected(name.error());
  if (name->empty() || name->find_first_of("/ ?#") != std::string::npos) {
    return at.Child("name").Fail(node["name"],
                                 "must be a non-empty name without '/', '?', '#' or spaces");
  }
  e.name = *name;
  const YAML::Node variants = node["variants"];
  if (!variants || !variants.IsSequence() || variants.size() == 0) {
    return at.Child("variants")
        .Fail(variants ? variants : node, "expected a non-empty list of variants");
  }
  std::set<std::string> names;
  double total = 0;
  for (std::size_t i = 0; i < variants.size(); ++i) {
    const YamlPath vat = at.Child("variants").Index(i);
    const YAML::Node v = variants[i];
    if (auto s = CheckKeys(v, vat, {"name", "weight", "instances", "model"}); !s) {
      return std::unexpected(s.error());
    }
    core::Variant variant;
    if (!v["name"]) return vat.Fail(v, "missing key name");
    auto vname = ReadString(v["name"], vat.Child("name"));
    if (!vname) return std::unexpected(vname.error());
    if (vname->empty()) return vat.Child("name").Fail(v["name"], "must not be empty");
    if (!names.insert(*vname).second) {
      return vat.Child("name").Fail(v["name"], "duplicate variant '" + *vname + "'");
    }
    variant.name = *vname;
    variant.weight = variants.size() == 1 ? 1.0 : 0.0;
    if (v["weight"]) {
      auto w = ReadDouble(v["weight"], vat.Child("weight"));
      if (!w) return std::unexpected(w.error());
      if (*w < 0 || *w > 1) return vat.Child("weight").Fail(v["weight"], "must be in [0, 1]");
      variant.weight = *w;
    }
    total += variant.weight;
    if (v["instances"]) {
      auto n = ReadInt(v["instances"], vat.Child("instances"));
      if (!n) return std::unexpected(n.error());
      if (*n < 1 || *n > 64) return vat.Child("instances").Fail(v["instances"], "must be in 1..64");
      variant.instances = static_cast<int>(*n);
    }
    if (!v["model"]) return vat.Fail(v, "missing key model");
    auto model = ReadModel(v["model"], vat.Child("model"), base_dir);
    if (!model) return std::unexpected(model.error());
    variant.model = *model;
    e.variants.push_back(std::move(variant));
  }
  if (std::fabs(total - 1.0) > 1e-6) {
    return at.Child("variants")
        .Fail(variants, "weights must sum to 1 (they sum to " + std::to_string(total) + ")");
  }
  auto policy = ReadPolicy(node["policy"], at.Child("policy"), BareNumber::kRefused);
  if (!policy) return std::unexpected(policy.error());
  e.policy = *policy;
  return e;
}

}  // namespace

core::Status ValidateListenAddress(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return core::ValidationError("'" + address + "' is not host:port");
  }
  const std::string port = address.substr(colon + 1);
  int value = -1;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value < 0 || value > 65535) {
    return core::ValidationError("'" + address + "': port must be 0..65535");
  }
  return core::Ok();
}

core::Result<ServiceConfig> ParseServiceConfig(const std::string& text, const std::string& source,
                                               const std::string& base_dir) {
  auto root = LoadYamlString(text, source);
  if (!root) return std::unexpected(root.error());
  const YamlPath top(source, "");
  if (auto s = CheckKeys(
          *root, top,
          {"listen", "store", "auth", "controller", "notifications", "gateway", "endpoints"});
      !s) {
    return std::unexpected(s.error());
  }
  ServiceConfig c;
  c.source = source;
  const YAML::Node& r = *root;

  if (const YAML::Node listen = r["listen"]) {
    const YamlPath at = top.Child("listen");
    if (auto s = CheckKeys(listen, at, {"inference", "control"}); !s)
      return std::unexpected(s.error());
    for (auto [key, field] :
         {std::pair{"inference", &c.inference_listen}, std::pair{"control", &c.control_listen}}) {
      if (!listen[key]) continue;
      auto v = ReadString(listen[key], at.Child(key));
      if (!v) return std::unexpected(v.error());
      if (auto s = ValidateListenAddress(*v); !s) {
        return at.Child(key).Fail(listen[key], s.error().message());
      }
      *field = *v;
    }
  }
  if (const YAML::Node store = r["store"]) {
    auto v = ReadString(store, top.Child("store"));
    if (!v) return std::unexpected(v.error());
    if (!v->starts_with("sqlite:") || v->size() == 7) {
      return top.Child("store").Fail(store, "expected sqlite:PATH");
    }
    c.store = "sqlite:" + Resolve(v->substr(7), base_dir);
  } else {
    c.store = "sqlite:" + Resolve("data/mlcanary.db", base_dir);
  }
  if (const YAML::Node auth = r["auth"]) {
    const YamlPath at = top.Child("auth");
    if (auto s = CheckKeys(auth, at, {"admin_token_env", "reader_token_env"}); !s) {
      return std::unexpected(s.error());
    }
    for (auto [key, field] : {std::pair{"admin_token_env", &c.admin_token_env},
                              std::pair{"reader_token_env", &c.reader_token_env}}) {
      if (!auth[key]) continue;
      auto v = ReadString(auth[key], at.Child(key));
      if (!v) return std::unexpected(v.error());
      *field = *v;
    }
  }
  if (const YAML::Node controller = r["controller"]) {
    const YamlPath at = top.Child("controller");
    if (auto s = CheckKeys(controller, at, {"interval"}); !s) return std::unexpected(s.error());
    if (controller["interval"]) {
      auto d = ReadDuration(controller["interval"], at.Child("interval"), BareNumber::kRefused);
      if (!d) return std::unexpected(d.error());
      if (d->count() <= 0) return at.Child("interval").Fail(controller["interval"], "must be > 0");
      c.controller_interval = *d;
    }
  }
  if (const YAML::Node notifications = r["notifications"]) {
    const YamlPath at = top.Child("notifications");
    if (auto s = CheckKeys(notifications, at, {"webhooks"}); !s) return std::unexpected(s.error());
    if (const YAML::Node hooks = notifications["webhooks"]) {
      if (!hooks.IsSequence()) return at.Child("webhooks").Fail(hooks, "expected a list of URLs");
      for (std::size_t i = 0; i < hooks.size(); ++i) {
        auto url = ReadString(hooks[i], at.Child("webhooks").Index(i));
        if (!url) return std::unexpected(url.error());
        if (!url->starts_with("http://")) {
          return at.Child("webhooks").Index(i).Fail(hooks[i], "must start with http://");
        }
        c.webhooks.push_back(*url);
      }
    }
  }
  if (const YAML::Node gateway = r["gateway"]) {
    const YamlPath at = top.Child("gateway");
    if (auto s = CheckKeys(gateway, at, {"threads", "max_body_bytes"}); !s) {
      return std::unexpected(s.error());
    }
    if (gateway["threads"]) {
      auto n = ReadInt(gateway["threads"], at.Child("threads"));
      if (!n) return std::unexpected(n.error());
      if (*n < 0 || *n > 256)
        return at.Child("threads").Fail(gateway["threads"], "must be in 0..256");
      c.gateway_threads = static_cast<int>(*n);
    }
    if (gateway["max_body_bytes"]) {
      auto n = ReadInt(gateway["max_body_bytes"], at.Child("max_body_bytes"));
      if (!n) return std::unexpected(n.error());
      if (*n < 1024 || *n > (1LL << 30)) {
        return at.Child("max_body_bytes")
            .Fail(gateway["max_body_bytes"], "must be in 1024..1073741824");
      }
      c.max_body_bytes = static_cast<std::size_t>(*n);
    }
  }
  const YAML::Node endpoints = r["endpoints"];
  if (!endpoints || !endpoints.IsSequence() || endpoints.size() == 0) {
    return top.Child("endpoints")
        .Fail(endpoints ? endpoints : r, "expected a non-empty list of endpoints");
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    auto e = ReadEndpoint(endpoints[i], top.Child("endpoints").Index(i), base_dir);
    if (!e) return std::unexpected(e.error());
    if (!names.insert(e->name).second) {
      return top.Child("endpoints")
          .Index(i)
          .Child("name")
          .Fail(endpoints[i]["name"], "duplicate endpoint '" + e->name + "'");
    }
    c.endpoints.push_back(std::move(*e));
  }
  return c;
}

core::Result<ServiceConfig> LoadServiceConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return core::NotFoundError(path + ": cannot read config file");
  std::stringstream text;
  text << in.rdbuf();
  const std::string dir = std::filesystem::absolute(path).parent_path().string();
  return ParseServiceConfig(text.str(), path, dir);
}

}  // namespace mlcanary::config
