// Names of error kinds and their textual forms.
#include "core/error.h"

namespace mlcanary::core {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kValidation:
      return "ValidationError";
    case ErrorCode::kNotFound:
      return "NotFound";
    case ErrorCode::kConflict:
      return "Conflict";
    case ErrorCode::kFailedPrecondition:
      return "FailedPrecondition";
    case ErrorCode::kUnauthenticated:
      return "Unauthenticated";
    case ErrorCode::kPermissionDenied:
      return "PermissionDenied";
    case ErrorCode::kModelError:
      return "ModelError";
    case ErrorCode::kThrottled:
      return "Throttled";
    case ErrorCode::kUnavailable:
      return "ServiceUnavailable";
    case ErrorCode::kTimeout:
      return "Timeout";
    case ErrorCode::kInternal:
      return "InternalError";
    case ErrorCode::kUnimplemented:
      return "Unimplemented";
  }
  return "InternalError";
}

std::string Error::ToString() const {
  std::string out(ErrorCodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

Error Error::WithContext(std::string_view context) const {
  std::string message(context);
  message += ": ";
  message += message_;
  return Error(code_, std::move(message));
}

}  // namespace mlcanary::core
