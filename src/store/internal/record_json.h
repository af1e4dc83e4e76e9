// The JSON text the stores keep for a deployment, an event and an endpoint
// (the codec's forms), and its way back. Encoders refuse what the codec would
// not read back (an empty model path, an invalid policy): the caller gets a
// ValidationError now, not a corrupt record later. Decoders answer a record
// that does not decode with an InternalError naming it, never a crash. Shared
// by the SQLite and DynamoDB stores.
#ifndef MLCANARY_STORE_INTERNAL_RECORD_JSON_H_
#define MLCANARY_STORE_INTERNAL_RECORD_JSON_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/time.h"
#include "core/types.h"

namespace mlcanary::store::internal {

// 'text', for names in messages.
std::string Quoted(std::string_view s);
// Milliseconds since the Unix epoch, as the stores keep times.
inline std::int64_t Millis(core::Timestamp t) { return t.time_since_epoch().count(); }

core::Result<std::string> EncodeDeployment(const core::Deployment& d);
core::Result<std::string> EncodeEvent(const core::DeploymentEvent& e);
core::Result<std::string> EncodeEndpoint(const core::Endpoint& endpoint);

// "read <where>: corrupt record: <why>" as an InternalError; `where` names the
// record ("deployment 'd1'", "endpoint item 'endpoint#recs'").
std::unexpected<core::Error> CorruptRecord(std::string_view where, std::string_view why);

// A deployment record, which must hold deployment `id`; `version` (kept beside
// the record) is authoritative.
core::Result<core::Deployment> DecodeDeployment(std::string_view json, std::string_view id,
                                                std::int64_t version, std::string_view where);
// An event of deployment `deployment_id` stored as number `seq`.
core::Result<core::DeploymentEvent> DecodeEvent(std::string_view json,
                                                std::string_view deployment_id, std::int64_t seq,
                                                std::string_view where);
core::Result<core::Endpoint> DecodeEndpoint(std::string_view json, std::string_view where);

}  // namespace mlcanary::store::internal

#endif  // MLCANARY_STORE_INTERNAL_RECORD_JSON_H_
