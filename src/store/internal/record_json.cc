// Encoders checked by a round trip through the codec.
#include "store/internal/record_json.h"

#include "codec/domain_json.h"
#include "util/json_writer.h"

namespace mlcanary::store::internal {
namespace {

std::string Quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

}  // namespace

core::Result<std::string> EncodeDeployment(const core::Deployment& d) {
  std::string json = codec::DeploymentJson(d);
  auto parsed = codec::ParseJson(json, "deployment");
  if (!parsed) return std::unexpected(parsed.error());
  if (auto back = codec::ParseDeployment(*parsed, "deployment"); !back) {
    return core::ValidationError("deployment " + Quoted(d.id) +
                                 " cannot be stored: " + back.error().message());
  }
  return json;
}

core::Result<std::string> EncodeEvent(const core::DeploymentEvent& e) {
  std::string json = codec::EventJson(e);
  auto parsed = codec::ParseJson(json, "event");
  if (!parsed) return std::unexpected(parsed.error());
  if (auto back = codec::ParseEvent(*parsed, "event"); !back) {
    return core::ValidationError("event of deployment " + Quoted(e.deployment_id) +
                                 " cannot be stored: " + back.error().message());
  }
  return json;
}

core::Result<std::string> EncodeEndpoint(const core::Endpoint& endpoint) {
  util::JsonWriter w;
  codec::WriteEndpoint(w, endpoint);
  std::string json = w.Release();
  auto parsed = codec::ParseJson(json, "endpoint");
  if (!parsed) return std::unexpected(parsed.error());
  if (auto back = codec::ParseEndpoint(*parsed, "endpoint"); !back) {
    return core::ValidationError("endpoint " + Quoted(endpoint.name) +
                                 " cannot be stored: " + back.error().message());
  }
  return json;
}

}  // namespace mlcanary::store::internal
