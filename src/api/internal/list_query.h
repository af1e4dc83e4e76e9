// The query of GET /v1/deployments (endpoint, state, since, until, limit,
// page_token) read into a core::DeploymentFilter, and the page token: opaque
// to clients, the cursor of a page's last deployment.
#ifndef MLCANARY_API_INTERNAL_LIST_QUERY_H_
#define MLCANARY_API_INTERNAL_LIST_QUERY_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/ports.h"
#include "http/message.h"

namespace mlcanary::api::internal {

inline constexpr std::size_t kMaxListLimit = 1000;

// A filter for the store; without `limit` it has none (every match, as before
// paging existed). Errors are kValidation naming the parameter ("query.since:
// ..."): a since/until that is not an RFC 3339 UTC time, since >= until, a
// limit outside 1..kMaxListLimit, a page_token this server did not give out.
core::Result<core::DeploymentFilter> ParseListQuery(const http::Request& request);

// base64url (no padding) of "v1.<created_at ms>.<id>.<check>", where check is
// a hash of what precedes it: a token cut or edited by hand is refused.
std::string EncodePageToken(const core::DeploymentCursor& cursor);
core::Result<core::DeploymentCursor> DecodePageToken(std::string_view token);

}  // namespace mlcanary::api::internal

#endif  // MLCANARY_API_INTERNAL_LIST_QUERY_H_
