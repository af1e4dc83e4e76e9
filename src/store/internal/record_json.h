// The JSON text the stores keep for a deployment, an event and an endpoint
// (the codec's forms), refusing what the codec would not read back (an empty
// model path, an invalid policy): the caller gets a ValidationError now, not a
// corrupt record later. Shared by the SQLite and DynamoDB stores.
#ifndef MLCANARY_STORE_INTERNAL_RECORD_JSON_H_
#define MLCANARY_STORE_INTERNAL_RECORD_JSON_H_

#include <string>

#include "core/error.h"
#include "core/types.h"

namespace mlcanary::store::internal {

core::Result<std::string> EncodeDeployment(const core::Deployment& d);
core::Result<std::string> EncodeEvent(const core::DeploymentEvent& e);
core::Result<std::string> EncodeEndpoint(const core::Endpoint& endpoint);

}  // namespace mlcanary::store::internal

#endif  // MLCANARY_STORE_INTERNAL_RECORD_JSON_H_
