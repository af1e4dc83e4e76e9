// DeploymentFollower: one deployment followed to its final state through the
// control API, as `mlcanary deploy --wait` and `mlcanary demo` show it live.
#ifndef MLCANARY_CLIENT_DEPLOYMENT_FOLLOWER_H_
#define MLCANARY_CLIENT_DEPLOYMENT_FOLLOWER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "client/api_client.h"
#include "core/error.h"
#include "core/types.h"

namespace mlcanary::client {

class DeploymentFollower {
 public:
  DeploymentFollower(ApiClient& api, std::string id) : api_(api), id_(std::move(id)) {}

  struct Round {
    std::vector<Answer<core::DeploymentEvent>> events;  // new since the last round, oldest first
    core::Deployment deployment;                        // as read after them
    bool final() const { return core::IsTerminal(deployment.state); }
  };

  // The events after the last one seen, then the deployment. When the
  // deployment is final, the events recorded between the two reads too, so that
  // the round that ends it shows the final transition. Errors are the client's;
  // the next call tries again from the same event.
  core::Result<Round> Next();

 private:
  core::Status ReadEvents(std::vector<Answer<core::DeploymentEvent>>& into);

  ApiClient& api_;
  std::string id_;
  std::int64_t after_ = 0;  // the highest seq seen
};

}  // namespace mlcanary::client

#endif  // MLCANARY_CLIENT_DEPLOYMENT_FOLLOWER_H_
