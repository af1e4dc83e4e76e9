// Following one deployment's events to its final state.
#include "client/deployment_follower.h"

#include <algorithm>

namespace mlcanary::client {

core::Status DeploymentFollower::ReadEvents(std::vector<Answer<core::DeploymentEvent>>& into) {
  auto events = api_.ListEvents(id_, after_);
  if (!events) return std::unexpected(events.error());
  for (Answer<core::DeploymentEvent>& e : events->value) {
    after_ = std::max(after_, e.value.seq);
    into.push_back(std::move(e));
  }
  return core::Ok();
}

core::Result<DeploymentFollower::Round> DeploymentFollower::Next() {
  const std::int64_t start = after_;
  Round round;
  if (auto s = ReadEvents(round.events); !s) return std::unexpected(s.error());
  auto d = api_.GetDeployment(id_);
  if (!d) {
    after_ = start;  // the next round shows these events again
    return std::unexpected(d.error());
  }
  round.deployment = std::move(d->value);
  // The final transition may have landed after the events were read. Should
  // this read fail, the round still ends the deployment, as read.
  if (round.final()) (void)ReadEvents(round.events);
  return round;
}

}  // namespace mlcanary::client
