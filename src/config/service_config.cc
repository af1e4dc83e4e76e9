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
#include "prometheus/prometheus_url.h"
#include "store/dynamodb_table_name.h"
#include "store/postgres_url.h"

namespace mlcanary::config {
namespace {

namespace fs = std::filesystem;

std::string Resolve(const std::string& path, const std::string& base_dir) {
  if (path.empty() || fs::path(path).is_absolute() || base_dir.empty()) return path;
  return (fs::path(base_dir) / path).lexically_normal().string();
}

// A duration with a unit, > 0.
core::Result<core::Duration> ReadPositiveDuration(const YAML::Node& node, const YamlPath& at) {
  auto d = ReadDuration(node, at, BareNumber::kRefused);
  if (!d) return std::unexpected(d.error());
  if (d->count() <= 0) return at.Fail(node, "must be > 0");
  return *d;
}

// An integer in lo..hi.
core::Result<std::int64_t> ReadIntIn(const YAML::Node& node, const YamlPath& at, std::int64_t lo,
                                     std::int64_t hi) {
  auto n = ReadInt(node, at);
  if (!n) return std::unexpected(n.error());
  if (*n < lo || *n > hi) {
    return at.Fail(node, "must be in " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  return *n;
}

// Records `node`'s line under `at`'s path in `lines` (ServiceConfig::key_lines).
void RecordLine(std::map<std::string, int, std::less<>>& lines, const YamlPath& at,
                const YAML::Node& node) {
  if (node.IsDefined() && node.Mark().line >= 0) lines[at.path()] = node.Mark().line + 1;
}

core::Result<core::ModelSpec> ReadModel(const YAML::Node& node, const YamlPath& at,
                                        const std::string& base_dir,
                                        std::map<std::string, int, std::less<>>& lines) {
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
    RecordLine(lines, at.Child("path"), node["path"]);
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
    RecordLine(lines, at.Child("url"), node["url"]);
    if (node["timeout"]) {
      auto t = ReadPositiveDuration(node["timeout"], at.Child("timeout"));
      if (!t) return std::unexpected(t.error());
      m.timeout = *t;
    }
    if (node["path"]) return at.Child("path").Fail(node["path"], "only for kind xgboost");
  }
  return m;
}

core::Result<EndpointConfig> ReadEndpoint(const YAML::Node& node, const YamlPath& at,
                                          const std::string& base_dir, Backend backend,
                                          std::map<std::string, int, std::less<>>& lines) {
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
  if (backend == Backend::kSagemaker) {
    if (!core::IsSageMakerName(e.name)) {
      return at.Child("name").Fail(node["name"],
                                   "'" + e.name + "' is not a SageMaker endpoint name");
    }
    if (node["variants"]) {
      return at.Child("variants")
          .Fail(node["variants"],
                "not with backend: sagemaker (the variants are the SageMaker endpoint's own)");
    }
    auto policy = ReadPolicy(node["policy"], at.Child("policy"), BareNumber::kRefused);
    if (!policy) return std::unexpected(policy.error());
    e.policy = *policy;
    return e;
  }
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
      auto n = ReadIntIn(v["instances"], vat.Child("instances"), 1, 64);
      if (!n) return std::unexpected(n.error());
      variant.instances = static_cast<int>(*n);
    }
    if (!v["model"]) return vat.Fail(v, "missing key model");
    auto model = ReadModel(v["model"], vat.Child("model"), base_dir, lines);
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

// `sagemaker.inference:` (README "SageMaker", the inference front).
core::Status ReadSagemakerInference(const YAML::Node& in, const YamlPath& at,
                                    SagemakerInferenceConfig& f) {
  if (auto s = CheckKeys(
          in, at, {"timeout", "variant_timeouts", "max_attempts", "threads", "refresh_interval"});
      !s) {
    return s;
  }
  for (auto [key, field] :
       {std::pair{"timeout", &f.timeout}, std::pair{"refresh_interval", &f.refresh_interval}}) {
    if (!in[key]) continue;
    auto d = ReadPositiveDuration(in[key], at.Child(key));
    if (!d) return std::unexpected(d.error());
    *field = *d;
  }
  if (const YAML::Node vt = in["variant_timeouts"]) {
    const YamlPath vat = at.Child("variant_timeouts");
    if (!vt.IsMap()) return vat.Fail(vt, "expected a map of variant: duration");
    for (const auto& kv : vt) {
      const std::string variant = kv.first.as<std::string>();
      if (!core::IsSageMakerName(variant)) {
        return vat.Fail(kv.first, "'" + variant + "' is not a SageMaker variant name");
      }
      auto d = ReadPositiveDuration(kv.second, vat.Child(variant));
      if (!d) return std::unexpected(d.error());
      f.variant_timeouts[variant] = *d;
    }
  }
  if (in["max_attempts"]) {
    auto n = ReadIntIn(in["max_attempts"], at.Child("max_attempts"), 1, 10);
    if (!n) return std::unexpected(n.error());
    f.max_attempts = static_cast<int>(*n);
  }
  if (in["threads"]) {
    auto n = ReadIntIn(in["threads"], at.Child("threads"), 1, 1024);
    if (!n) return std::unexpected(n.error());
    f.threads = static_cast<int>(*n);
  }
  return core::Ok();
}

// sagemaker.autoscaling: Application Auto Scaling for the canary variant.
core::Status ReadAutoscaling(const YAML::Node& as, const YamlPath& aat, AutoScalingConfig& a) {
  if (auto s =
          CheckKeys(as, aat,
                    {"enabled", "min_capacity", "max_capacity", "target_invocations_per_instance",
                     "scale_out_cooldown", "scale_in_cooldown"});
      !s) {
    return s;
  }
  if (as["enabled"]) {
    auto b = ReadBool(as["enabled"], aat.Child("enabled"));
    if (!b) return std::unexpected(b.error());
    a.enabled = *b;
  }
  for (auto [key, field] :
       {std::pair{"min_capacity", &a.min_capacity}, std::pair{"max_capacity", &a.max_capacity}}) {
    if (!as[key]) continue;
    auto n = ReadIntIn(as[key], aat.Child(key), 1, 1000);
    if (!n) return std::unexpected(n.error());
    *field = static_cast<int>(*n);
  }
  if (a.min_capacity > a.max_capacity) {
    return aat.Fail(as, "min_capacity (" + std::to_string(a.min_capacity) +
                            ") must not exceed max_capacity (" + std::to_string(a.max_capacity) +
                            ")");
  }
  if (as["target_invocations_per_instance"]) {
    const YamlPath tat = aat.Child("target_invocations_per_instance");
    auto v = ReadDouble(as["target_invocations_per_instance"], tat);
    if (!v) return std::unexpected(v.error());
    if (!(*v > 0)) return tat.Fail(as["target_invocations_per_instance"], "must be > 0");
    a.target_invocations_per_instance = *v;
  }
  for (auto [key, field] : {std::pair{"scale_out_cooldown", &a.scale_out_cooldown},
                            std::pair{"scale_in_cooldown", &a.scale_in_cooldown}}) {
    if (!as[key]) continue;
    auto d = ReadDuration(as[key], aat.Child(key), BareNumber::kRefused);
    if (!d) return std::unexpected(d.error());
    if (d->count() < 0) return aat.Child(key).Fail(as[key], "must be >= 0");
    *field = *d;
  }
  return core::Ok();
}

// aws: {region, endpoint_url, endpoint_urls, timeout, max_attempts}.
core::Status ReadAws(const YAML::Node& r, const YamlPath& top, ServiceConfig& c) {
  if (const YAML::Node aws = r["aws"]) {
    const YamlPath at = top.Child("aws");
    if (auto s = CheckKeys(aws, at,
                           {"region", "endpoint_url", "endpoint_urls", "timeout", "max_attempts"});
        !s) {
      return s;
    }
    if (aws["region"]) {
      auto v = ReadString(aws["region"], at.Child("region"));
      if (!v) return std::unexpected(v.error());
      if (v->empty() ||
          v->find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
        return at.Child("region").Fail(aws["region"], "'" + *v + "' is not an AWS region");
      }
      c.aws.region = *v;
    }
    auto read_url = [](const YAML::Node& node, const YamlPath& path) -> core::Result<std::string> {
      auto v = ReadString(node, path);
      if (!v) return std::unexpected(v.error());
      if (!v->starts_with("http://") && !v->starts_with("https://")) {
        return path.Fail(node, "must start with http:// or https://");
      }
      return *v;
    };
    if (aws["endpoint_url"]) {
      auto v = read_url(aws["endpoint_url"], at.Child("endpoint_url"));
      if (!v) return std::unexpected(v.error());
      c.aws.endpoint_url = *v;
    }
    if (const YAML::Node urls = aws["endpoint_urls"]) {
      const YamlPath uat = at.Child("endpoint_urls");
      if (!urls.IsMap()) return uat.Fail(urls, "expected a map of service: URL");
      if (auto s = CheckKeys(
              urls, uat,
              {"sagemaker", "sagemaker-runtime", "cloudwatch", "sns", "dynamodb", "autoscaling"});
          !s) {
        return s;
      }
      for (const auto& kv : urls) {
        const std::string key = kv.first.as<std::string>();
        auto v = read_url(kv.second, uat.Child(key));
        if (!v) return std::unexpected(v.error());
        c.aws.endpoint_urls[key] = *v;
      }
    }
    if (aws["timeout"]) {
      auto d = ReadPositiveDuration(aws["timeout"], at.Child("timeout"));
      if (!d) return std::unexpected(d.error());
      c.aws.timeout = *d;
    }
    if (aws["max_attempts"]) {
      auto n = ReadIntIn(aws["max_attempts"], at.Child("max_attempts"), 1, 10);
      if (!n) return std::unexpected(n.error());
      c.aws.max_attempts = static_cast<int>(*n);
    }
  }
  return core::Ok();
}

// sagemaker: {poll_interval, wait_timeout, delete_old_configs, autoscaling, inference}.
core::Status ReadSagemaker(const YAML::Node& r, const YamlPath& top, ServiceConfig& c) {
  if (const YAML::Node sm = r["sagemaker"]) {
    const YamlPath at = top.Child("sagemaker");
    if (auto s = CheckKeys(
            sm, at,
            {"poll_interval", "wait_timeout", "delete_old_configs", "autoscaling", "inference"});
        !s) {
      return s;
    }
    if (sm["poll_interval"]) {
      auto d = ReadPositiveDuration(sm["poll_interval"], at.Child("poll_interval"));
      if (!d) return std::unexpected(d.error());
      c.sagemaker.poll_interval = *d;
    }
    if (sm["wait_timeout"]) {
      auto d = ReadPositiveDuration(sm["wait_timeout"], at.Child("wait_timeout"));
      if (!d) return std::unexpected(d.error());
      c.sagemaker.wait_timeout = *d;
    }
    if (sm["delete_old_configs"]) {
      auto b = ReadBool(sm["delete_old_configs"], at.Child("delete_old_configs"));
      if (!b) return std::unexpected(b.error());
      c.sagemaker.delete_old_configs = *b;
    }
    if (const YAML::Node as = sm["autoscaling"]) {
      if (auto s = ReadAutoscaling(as, at.Child("autoscaling"), c.sagemaker.autoscaling); !s) {
        return s;
      }
    }
    if (const YAML::Node in = sm["inference"]) {
      if (auto s = ReadSagemakerInference(in, at.Child("inference"), c.sagemaker.inference); !s) {
        return s;
      }
    }
  }
  return core::Ok();
}

// `aws:` and `sagemaker:` (API.md is silent on them; README "SageMaker").
core::Status ReadAwsSections(const YAML::Node& r, const YamlPath& top, ServiceConfig& c) {
  if (auto s = ReadAws(r, top, c); !s) return s;
  return ReadSagemaker(r, top, c);
}

// Whether two valid "host:port" addresses would bind the same port: the same
// non-zero port on the same host, or on a wildcard host (which takes the port
// on every address).
bool SamePort(const std::string& a, const std::string& b) {
  const auto split = [](const std::string& address) {
    const auto colon = address.rfind(':');
    return std::pair{address.substr(0, colon), address.substr(colon + 1)};
  };
  const auto [host_a, port_a] = split(a);
  const auto [host_b, port_b] = split(b);
  if (std::stoi(port_a) != std::stoi(port_b) || std::stoi(port_a) == 0) return false;
  const auto wildcard = [](const std::string& host) {
    return host == "0.0.0.0" || host == "::" || host == "[::]" || host == "*";
  };
  return host_a == host_b || wildcard(host_a) || wildcard(host_b);
}

}  // namespace

core::Error ConfigKeyError(const ServiceConfig& config, std::string_view key,
                           std::string_view reason) {
  std::string text = config.source + ": " + std::string(key);
  if (auto it = config.key_lines.find(key); it != config.key_lines.end()) {
    text += " (line " + std::to_string(it->second) + ")";
  }
  text += ": ";
  text += reason;
  return core::Error(core::ErrorCode::kValidation, std::move(text));
}

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

namespace {

// metrics: {source: embedded | prometheus, url, job, timeout}.
core::Status ReadMetrics(const YAML::Node& node, const YamlPath& at, ServiceConfig& c) {
  if (c.backend == Backend::kSagemaker) {
    return at.Fail(node, "not with backend: sagemaker (CloudWatch measures SageMaker)");
  }
  if (!node.IsMap()) return at.Fail(node, "expected a map: {source: prometheus, url: ...}");
  if (auto s = CheckKeys(node, at, {"source", "url", "job", "timeout"}); !s) return s;
  if (const YAML::Node source = node["source"]) {
    auto v = ReadString(source, at.Child("source"));
    if (!v) return std::unexpected(v.error());
    if (*v == "embedded") {
      c.metrics.source = MetricsSource::kEmbedded;
    } else if (*v == "prometheus") {
      c.metrics.source = MetricsSource::kPrometheus;
    } else {
      return at.Child("source").Fail(source, "'" + *v + "' is not embedded or prometheus");
    }
  }
  if (c.metrics.source != MetricsSource::kPrometheus) {
    for (const char* key : {"url", "job", "timeout"}) {
      if (node[key]) return at.Child(key).Fail(node[key], "only with source: prometheus");
    }
    return core::Ok();
  }
  const YAML::Node url = node["url"];
  if (!url) return at.Child("url").Fail(node, "required with source: prometheus");
  auto u = ReadString(url, at.Child("url"));
  if (!u) return std::unexpected(u.error());
  if (auto s = prometheus::ValidatePrometheusUrl(*u); !s) {
    return at.Child("url").Fail(url, s.error().message());
  }
  c.metrics.url = *u;
  RecordLine(c.key_lines, at.Child("url"), url);
  if (const YAML::Node job = node["job"]) {
    auto v = ReadString(job, at.Child("job"));
    if (!v) return std::unexpected(v.error());
    if (v->empty()) return at.Child("job").Fail(job, "must not be empty (leave it out: any job)");
    c.metrics.job = *v;
  }
  if (const YAML::Node timeout = node["timeout"]) {
    auto d = ReadPositiveDuration(timeout, at.Child("timeout"));
    if (!d) return std::unexpected(d.error());
    c.metrics.timeout = *d;
  }
  return core::Ok();
}

// metrics: optional (embedded when absent).
core::Status ReadMetricsSection(const YAML::Node& r, const YamlPath& top, ServiceConfig& c) {
  if (const YAML::Node metrics = r["metrics"]) return ReadMetrics(metrics, top.Child("metrics"), c);
  return core::Ok();
}

// backend: embedded | sagemaker.
core::Status ReadBackend(const YAML::Node& r, const YamlPath& top, ServiceConfig& c) {
  if (const YAML::Node backend = r["backend"]) {
    auto v = ReadString(backend, top.Child("backend"));
    if (!v) return std::unexpected(v.error());
    if (*v == "embedded") {
      c.backend = Backend::kEmbedded;
    } else if (*v == "sagemaker") {
      c.backend = Backend::kSagemaker;
    } else {
      return top.Child("backend").Fail(backend, "'" + *v + "' is not embedded or sagemaker");
    }
  }
  return core::Ok();
}

// What only the SageMaker backend reads, and what needs its inference front.
core::Status CheckSagemakerOnlyKeys(const YAML::Node& r, const YamlPath& top, ServiceConfig& c) {
  if (c.backend == Backend::kSagemaker) {
    // listen.inference turns the inference front on (README "SageMaker"); what
    // configures the gateway needs it.
    c.sagemaker.inference.enabled =
        r["listen"] && r["listen"].IsMap() && static_cast<bool>(r["listen"]["inference"]);
    const char* why = "only with listen.inference (the SageMaker inference front)";
    if (!c.sagemaker.inference.enabled) {
      if (r["gateway"]) return top.Child("gateway").Fail(r["gateway"], why);
      if (r["sagemaker"] && r["sagemaker"].IsMap() && r["sagemaker"]["inference"]) {
        return top.Child("sagemaker").Child("inference").Fail(r["sagemaker"]["inference"], why);
      }
    }
  } else if (r["sagemaker"]) {
    return top.Child("sagemaker").Fail(r["sagemaker"], "only with backend: sagemaker");
  }
  return core::Ok();
}

// listen: {inference, control, max_connections}.
core::Status ReadListen(const YAML::Node& r, const YamlPath& top, ServiceConfig& c) {
  if (const YAML::Node listen = r["listen"]) {
    const YamlPath at = top.Child("listen");
    if (auto s = CheckKeys(listen, at, {"inference", "control", "max_connections"}); !s) return s;
    for (auto [key, field] :
         {std::pair{"inference", &c.inference_listen}, std::pair{"control", &c.control_listen}}) {
      if (!listen[key]) continue;
      auto v = ReadString(listen[key], at.Child(key));
      if (!v) return std::unexpected(v.error());
      if (auto s = ValidateListenAddress(*v); !s) {
        return at.Child(key).Fail(listen[key], s.error().message());
      }
      *field = *v;
      RecordLine(c.key_lines, at.Child(key), listen[key]);
    }
    // Both servers cannot bind one port: say so here, with the line, rather
    // than as "address in use" from the second bind.
    const bool serves_inference = c.backend == Backend::kEmbedded || c.sagemaker.inference.enabled;
    if (serves_inference && SamePort(c.inference_listen, c.control_listen)) {
      const bool control = static_cast<bool>(listen["control"]);
      const char* key = control ? "control" : "inference";
      const char* other = control ? "inference" : "control";
      const std::string& value = control ? c.control_listen : c.inference_listen;
      const std::string& other_value = control ? c.inference_listen : c.control_listen;
      return at.Child(key).Fail(listen[key], "'" + value + "' has the port of listen." + other +
                                                 " ('" + other_value +
                                                 "'): the two servers need two ports");
    }
    if (const YAML::Node caps = listen["max_connections"]) {
      const YamlPath cat = at.Child("max_connections");
      if (!caps.IsMap()) return cat.Fail(caps, "expected a map of inference: N, control: N");
      if (auto s = CheckKeys(caps, cat, {"inference", "control"}); !s) {
        return s;
      }
      if (!serves_inference && caps["inference"]) {
        return cat.Child("inference")
            .Fail(caps["inference"], "only with listen.inference (the SageMaker inference front)");
      }
      for (auto [key, field] : {std::pair{"inference", &c.inference_max_connections},
                                std::pair{"control", &c.control_max_connections}}) {
        if (!caps[key]) continue;
        auto n = ReadIntIn(caps[key], cat.Child(key), 1, 1000000);
        if (!n) return std::unexpected(n.error());
        *field = static_cast<std::size_t>(*n);
      }
    }
  }
  return core::Ok();
}

// store: sqlite:PATH | dynamodb:TABLE | postgresql://... (default sqlite:data/mlcanary.db).
core::Status ReadStore(const YAML::Node& r, const YamlPath& top, const std::string& base_dir,
                       ServiceConfig& c) {
  if (const YAML::Node store = r["store"]) {
    auto v = ReadString(store, top.Child("store"));
    if (!v) return std::unexpected(v.error());
    if (v->starts_with("dynamodb:")) {
      if (!store::IsDynamoDbTableName(v->substr(9))) {
        return top.Child("store").Fail(store, "'" + v->substr(9) + "' is not a DynamoDB table: " +
                                                  std::string(store::kDynamoDbTableNameRule));
      }
      c.store = *v;
    } else if (store::IsPostgresUrl(*v)) {
      // Kept as written: libpq reads the rest when the store opens (a bad URL
      // is then one line naming `store`, without the password).
      c.store = *v;
    } else if (!v->starts_with("sqlite:") || v->size() == 7) {
      return top.Child("store").Fail(store,
                                     "expected sqlite:PATH, dynamodb:TABLE or postgresql://...");
    } else {
      c.store = "sqlite:" + Resolve(v->substr(7), base_dir);
    }
    RecordLine(c.key_lines, top.Child("store"), store);
  } else {
    c.store = "sqlite:" + Resolve("data/mlcanary.db", base_dir);
  }
  return core::Ok();
}

// auth: {admin_token_env, reader_token_env}.
core::Status ReadAuth(const YAML::Node& r, const YamlPath& top, ServiceConfig& c) {
  if (const YAML::Node auth = r["auth"]) {
    const YamlPath at = top.Child("auth");
    if (auto s = CheckKeys(auth, at, {"admin_token_env", "reader_token_env"}); !s) {
      return s;
    }
    for (auto [key, field] : {std::pair{"admin_token_env", &c.admin_token_env},
                              std::pair{"reader_token_env", &c.reader_token_env}}) {
      if (!auth[key]) continue;
      auto v = ReadString(auth[key], at.Child(key));
      if (!v) return std::unexpected(v.error());
      *field = *v;
    }
  }
  return core::Ok();
}

// controller: {interval, lease}.
core::Status ReadController(const YAML::Node& r, const YamlPath& top, ServiceConfig& c) {
  if (const YAML::Node controller = r["controller"]) {
    const YamlPath at = top.Child("controller");
    if (auto s = CheckKeys(controller, at, {"interval", "lease"}); !s) {
      return s;
    }
    if (controller["interval"]) {
      auto d = ReadPositiveDuration(controller["interval"], at.Child("interval"));
      if (!d) return std::unexpected(d.error());
      c.controller_interval = *d;
    }
    if (controller["lease"]) {
      auto d = ReadPositiveDuration(controller["lease"], at.Child("lease"));
      if (!d) return std::unexpected(d.error());
      if (*d < std::chrono::seconds(1)) {
        return at.Child("lease").Fail(controller["lease"], "must be at least 1s");
      }
      c.controller_lease = *d;
    }
  }
  return core::Ok();
}

// notifications: {webhooks, sns_topic_arn}.
core::Status ReadNotifications(const YAML::Node& r, const YamlPath& top, ServiceConfig& c) {
  if (const YAML::Node notifications = r["notifications"]) {
    const YamlPath at = top.Child("notifications");
    if (auto s = CheckKeys(notifications, at, {"webhooks", "sns_topic_arn"}); !s) {
      return s;
    }
    if (const YAML::Node topic = notifications["sns_topic_arn"]) {
      auto arn = ReadString(topic, at.Child("sns_topic_arn"));
      if (!arn) return std::unexpected(arn.error());
      if (!arn->starts_with("arn:") || arn->find(":sns:") == std::string::npos) {
        return at.Child("sns_topic_arn").Fail(topic, "'" + *arn + "' is not an SNS topic ARN");
      }
      c.sns_topic_arn = *arn;
    }
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
  return core::Ok();
}

// gateway: {threads, max_body_bytes}.
core::Status ReadGateway(const YAML::Node& r, const YamlPath& top, ServiceConfig& c) {
  if (const YAML::Node gateway = r["gateway"]) {
    const YamlPath at = top.Child("gateway");
    if (auto s = CheckKeys(gateway, at, {"threads", "max_body_bytes"}); !s) {
      return s;
    }
    if (gateway["threads"]) {
      auto n = ReadIntIn(gateway["threads"], at.Child("threads"), 0, 256);
      if (!n) return std::unexpected(n.error());
      c.gateway_threads = static_cast<int>(*n);
    }
    if (gateway["max_body_bytes"]) {
      auto n = ReadIntIn(gateway["max_body_bytes"], at.Child("max_body_bytes"), 1024, 1LL << 30);
      if (!n) return std::unexpected(n.error());
      c.max_body_bytes = static_cast<std::size_t>(*n);
    }
  }
  return core::Ok();
}

// endpoints: a non-empty list, names unique.
core::Status ReadEndpoints(const YAML::Node& r, const YamlPath& top, const std::string& base_dir,
                           ServiceConfig& c) {
  const YAML::Node endpoints = r["endpoints"];
  if (!endpoints || !endpoints.IsSequence() || endpoints.size() == 0) {
    return top.Child("endpoints")
        .Fail(endpoints ? endpoints : r, "expected a non-empty list of endpoints");
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    auto e = ReadEndpoint(endpoints[i], top.Child("endpoints").Index(i), base_dir, c.backend,
                          c.key_lines);
    if (!e) return std::unexpected(e.error());
    if (!names.insert(e->name).second) {
      return top.Child("endpoints")
          .Index(i)
          .Child("name")
          .Fail(endpoints[i]["name"], "duplicate endpoint '" + e->name + "'");
    }
    c.endpoints.push_back(std::move(*e));
  }
  return core::Ok();
}

}  // namespace

core::Result<ServiceConfig> ParseServiceConfig(const std::string& text, const std::string& source,
                                               const std::string& base_dir) {
  auto root = LoadYamlString(text, source);
  if (!root) return std::unexpected(root.error());
  const YamlPath top(source, "");
  if (auto s = CheckKeys(*root, top,
                         {"backend", "listen", "store", "auth", "controller", "metrics",
                          "notifications", "gateway", "aws", "sagemaker", "endpoints"});
      !s) {
    return std::unexpected(s.error());
  }
  ServiceConfig c;
  c.source = source;
  const YAML::Node& r = *root;
  // In this order: the backend decides what the other sections may hold.
  if (auto s = ReadBackend(r, top, c); !s) return std::unexpected(s.error());
  if (auto s = ReadAwsSections(r, top, c); !s) return std::unexpected(s.error());
  if (auto s = CheckSagemakerOnlyKeys(r, top, c); !s) return std::unexpected(s.error());
  if (auto s = ReadListen(r, top, c); !s) return std::unexpected(s.error());
  if (auto s = ReadStore(r, top, base_dir, c); !s) return std::unexpected(s.error());
  if (auto s = ReadAuth(r, top, c); !s) return std::unexpected(s.error());
  if (auto s = ReadController(r, top, c); !s) return std::unexpected(s.error());
  if (auto s = ReadMetricsSection(r, top, c); !s) return std::unexpected(s.error());
  if (auto s = ReadNotifications(r, top, c); !s) return std::unexpected(s.error());
  if (auto s = ReadGateway(r, top, c); !s) return std::unexpected(s.error());
  if (auto s = ReadEndpoints(r, top, base_dir, c); !s) return std::unexpected(s.error());
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
