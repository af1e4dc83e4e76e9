// How errors reach HTTP clients: the one mapping from core::ErrorCode to an
// HTTP status, and the JSON error body {"error": {"code", "message"}}.
#ifndef MLCANARY_GATEWAY_HTTP_ERRORS_H_
#define MLCANARY_GATEWAY_HTTP_ERRORS_H_

#include <string>
#include <string_view>

#include "core/error.h"

namespace mlcanary::gateway {

// kValidation 400, kUnauthenticated 401, kPermissionDenied 403, kNotFound 404,
// kConflict and kFailedPrecondition 409, kThrottled 429, kInternal 500,
// kModelError 502 (the model or its server failed: an upstream 5xx, a broken
// answer), kUnavailable 503, kTimeout 504.
int HttpStatusFor(core::ErrorCode code);

// {"error":{"code":"<code>","message":"<message>"}}
std::string ErrorJson(std::string_view code, std::string_view message);
inline std::string ErrorJson(const core::Error& error) {
  return ErrorJson(core::ErrorCodeName(error.code()), error.message());
}

// Codes of errors the HTTP layer raises itself, beside core::ErrorCodeName's.
inline constexpr std::string_view kPayloadTooLargeCode = "PayloadTooLarge";    // 413
inline constexpr std::string_view kMethodNotAllowedCode = "MethodNotAllowed";  // 405

}  // namespace mlcanary::gateway

#endif  // MLCANARY_GATEWAY_HTTP_ERRORS_H_
