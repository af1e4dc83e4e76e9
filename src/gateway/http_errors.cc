// The error -> HTTP status mapping and error bodies.
#include "gateway/http_errors.h"

#include "util/json_writer.h"

namespace mlcanary::gateway {

int HttpStatusFor(core::ErrorCode code) {
  switch (code) {
    case core::ErrorCode::kValidation:
      return 400;
    case core::ErrorCode::kUnauthenticated:
      return 401;
    case core::ErrorCode::kPermissionDenied:
      return 403;
    case core::ErrorCode::kNotFound:
      return 404;
    case core::ErrorCode::kConflict:
      return 409;
    case core::ErrorCode::kFailedPrecondition:
      return 409;
    case core::ErrorCode::kThrottled:
      return 429;
    case core::ErrorCode::kInternal:
      return 500;
    case core::ErrorCode::kModelError:
      return 502;
    case core::ErrorCode::kUnavailable:
      return 503;
    case core::ErrorCode::kTimeout:
      return 504;
  }
  return 500;
}

std::string ErrorJson(std::string_view code, std::string_view message) {
  std::string out = R"({"error":{"code":)";
  util::AppendJsonString(out, code);
  out += R"(,"message":)";
  util::AppendJsonString(out, message);
  out += "}}";
  return out;
}

}  // namespace mlcanary::gateway
