// Encoders checked by a round trip through the codec, and the decoders.
#include "store/internal/record_json.h"

#include "codec/domain_json.h"
#include "util/json_writer.h"

namespace mlcanary::store::internal {

std::string Quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

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

std::unexpected<core::Error> CorruptRecord(std::string_view where, std::string_view why) {
  return core::InternalError("read " + std::string(where) +
                             ": corrupt record: " + std::string(why));
}

core::Result<core::Deployment> DecodeDeployment(std::string_view json, std::string_view id,
                                                std::int64_t version, std::string_view where) {
  auto parsed = codec::ParseJson(json, "record");
  if (!parsed) return CorruptRecord(where, parsed.error().message());
  auto d = codec::ParseDeployment(*parsed, "record");
  if (!d) return CorruptRecord(where, d.error().message());
  if (d->id != id) return CorruptRecord(where, "it holds deployment " + Quoted(d->id));
  d->version = version;
  return d;
}

core::Result<core::DeploymentEvent> DecodeEvent(std::string_view json,
                                                std::string_view deployment_id, std::int64_t seq,
                                                std::string_view where) {
  auto parsed = codec::ParseJson(json, "record");
  if (!parsed) return CorruptRecord(where, parsed.error().message());
  auto e = codec::ParseEvent(*parsed, "record");
  if (!e) return CorruptRecord(where, e.error().message());
  e->deployment_id = std::string(deployment_id);
  e->seq = seq;
  return e;
}

core::Result<core::Endpoint> DecodeEndpoint(std::string_view json, std::string_view where) {
  auto parsed = codec::ParseJson(json, "record");
  if (!parsed) return CorruptRecord(where, parsed.error().message());
  auto endpoint = codec::ParseEndpoint(*parsed, "record");
  if (!endpoint) return CorruptRecord(where, endpoint.error().message());
  return endpoint;
}

}  // namespace mlcanary::store::internal
