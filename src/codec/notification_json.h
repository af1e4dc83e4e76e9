// The notification of one event: the event with its deployment's context, as
// every notifier sends it (notify::LogNotifier's line, notify::WebhookNotifier's
// body, sagemaker::SnsNotifier's message). One definition, so that no two
// notifiers name a value differently.
#ifndef MLCANARY_CODEC_NOTIFICATION_JSON_H_
#define MLCANARY_CODEC_NOTIFICATION_JSON_H_

#include <string>

#include "core/types.h"
#include "util/json_writer.h"

namespace mlcanary::codec {

// Writes the notification's keys into an object the caller has begun, so that
// a notifier frames them (the log line puts its time, level and msg first):
//   deployment_id, seq       the event's identity; receivers drop a pair seen before
//   kind                     check, transition, weight_change, paused, resumed, error
//   endpoint, production_variant, canary_variant
//   from_state, to_state     state names, as in API.md's events
//   weight_before, weight_after
//   reason, actor
//   check                    the HealthReport (values, thresholds, verdict), or null
// The event's time is the caller's to write (the log line's "time"; the body's
// "event" object).
void WriteNotificationFields(util::JsonWriter& w, const core::Deployment& deployment,
                             const core::DeploymentEvent& event);

// The notification as one object: the keys above, then "deployment" (the
// deployment as the API serves it) and "event" (the event as the API serves
// it). The body of a webhook delivery and of an SNS message.
std::string NotificationJson(const core::Deployment& deployment,
                             const core::DeploymentEvent& event);

}  // namespace mlcanary::codec

#endif  // MLCANARY_CODEC_NOTIFICATION_JSON_H_
