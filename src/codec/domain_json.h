// JSON forms of the domain's values, one definition for every place that
// writes or reads them: the control API, the stores, notifications, the CLI.
// Durations are written as text ("10m"), timestamps as RFC 3339 UTC.
#ifndef MLCANARY_CODEC_DOMAIN_JSON_H_
#define MLCANARY_CODEC_DOMAIN_JSON_H_

#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/types.h"
#include "util/json_writer.h"

namespace mlcanary::codec {

void WritePolicy(util::JsonWriter& w, const core::Policy& policy);
void WriteModelSpec(util::JsonWriter& w, const core::ModelSpec& model);
void WriteWindowMetrics(util::JsonWriter& w, const core::WindowMetrics& m);
void WriteHealthReport(util::JsonWriter& w, const core::HealthReport& report);
void WriteEndpoint(util::JsonWriter& w, const core::Endpoint& endpoint);
// API.md's deployment: id, endpoint, production_variant, canary_variant, state,
// canary_weight, paused, policy, created_at, updated_at; plus model, instances,
// version and the rollout progress.
void WriteDeployment(util::JsonWriter& w, const core::Deployment& d);
void WriteEvent(util::JsonWriter& w, const core::DeploymentEvent& e);

std::string DeploymentJson(const core::Deployment& d);
std::string EventJson(const core::DeploymentEvent& e);

// Readers. `where` names the value in errors ("policy", "body.model").
// ParsePolicy applies the keys present on top of `base` (unknown keys refused)
// and validates the result with `rules`. ParseDeployment reads a stored (or
// served) record, so its policy with core::PolicyRules::kStored: what an older
// version wrote still reads.
core::Result<core::Policy> ParsePolicy(const boost::json::value& v, std::string_view where,
                                       const core::Policy& base = core::Policy{},
                                       core::PolicyRules rules = core::PolicyRules::kNew);
core::Result<core::ModelSpec> ParseModelSpec(const boost::json::value& v, std::string_view where);
core::Result<core::HealthReport> ParseHealthReport(const boost::json::value& v,
                                                   std::string_view where);
core::Result<core::Endpoint> ParseEndpoint(const boost::json::value& v, std::string_view where);
core::Result<core::Deployment> ParseDeployment(const boost::json::value& v, std::string_view where);
core::Result<core::DeploymentEvent> ParseEvent(const boost::json::value& v, std::string_view where);
// The control API's lists: {"deployments": [...]} and {"events": [...]} (other
// keys, such as "deployment_id" or a deployment's "last_check_error", ignored).
core::Result<std::vector<core::Deployment>> ParseDeploymentList(const boost::json::value& v,
                                                                std::string_view where);
core::Result<std::vector<core::DeploymentEvent>> ParseEventList(const boost::json::value& v,
                                                                std::string_view where);

// Parses text as JSON; a syntax error is a ValidationError naming `where`.
core::Result<boost::json::value> ParseJson(std::string_view text, std::string_view where);

}  // namespace mlcanary::codec

#endif  // MLCANARY_CODEC_DOMAIN_JSON_H_
