#include "codec/notification_json.h"

#include "codec/domain_json.h"
#include "core/state_machine.h"

namespace mlcanary::codec {

void WriteNotificationFields(util::JsonWriter& w, const core::Deployment& d,
                             const core::DeploymentEvent& e) {
  w.Key("deployment_id").String(d.id);
  w.Key("seq").Int(e.seq);
  w.Key("kind").String(core::EventKindName(e.kind));
  w.Key("endpoint").String(d.endpoint);
  w.Key("production_variant").String(d.production_variant);
  w.Key("canary_variant").String(d.canary_variant);
  w.Key("from_state").String(core::StateName(e.from_state));
  w.Key("to_state").String(core::StateName(e.to_state));
  w.Key("weight_before").Number(e.weight_before);
  w.Key("weight_after").Number(e.weight_after);
  w.Key("reason").String(e.reason);
  w.Key("actor").String(e.actor);
  w.Key("check");
  if (e.check) {
    WriteHealthReport(w, *e.check);
  } else {
    w.Null();
  }
}

std::string NotificationJson(const core::Deployment& d, const core::DeploymentEvent& e) {
  util::JsonWriter w;
  w.BeginObject();
  WriteNotificationFields(w, d, e);
  w.Key("deployment");
  WriteDeployment(w, d);
  w.Key("event");
  WriteEvent(w, e);
  w.EndObject();
  return w.Release();
}

}  // namespace mlcanary::codec
