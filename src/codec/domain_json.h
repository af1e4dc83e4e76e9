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

// The notification of an event: the event with its deployment's context, as
// every notifier sends it (notify::LogNotifier's line, notify::WebhookNotifier's
// body, sagemaker::SnsNotifier's message), so that no two name a value apart.
// WriteNotificationFields writes its keys into an object the caller has begun
// (a notifier frames them; the log line puts its time, level and msg first):
//   deployment_id, seq       the event's identity; receivers drop a pair seen before
//   kind                     check, transition, weight_change, paused, resumed, error
//   endpoint, production_variant, canary_variant
//   from_state, to_state     state names, as in the API's events
//   weight_before, weight_after, reason, actor
//   check                    the HealthReport (values, thresholds, verdict), or null
// NotificationJson is one object of those keys, then "deployment" and "event"
// as the API serves them: the body of a webhook delivery and of an SNS message.
void WriteNotificationFields(util::JsonWriter& w, const core::Deployment& deployment,
                             const core::DeploymentEvent& event);
std::string NotificationJson(const core::Deployment& deployment,
                             const core::DeploymentEvent& event);

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
