// The one mapping from error kinds to HTTP statuses, shared by the gateway and
// the control API: 400 validation, 401, 403, 404, 409 conflict and refused
// transitions, 429 throttled, 502 model error, 503 unavailable, 504 timeout,
// 500 internal, 501 unimplemented; and its inverse for a client of the control
// API (ErrorCodeForStatus).
#ifndef MLCANARY_HTTP_HTTP_STATUS_H_
#define MLCANARY_HTTP_HTTP_STATUS_H_

#include "core/error.h"

namespace mlcanary::http {

constexpr int HttpStatusFor(core::ErrorCode code) {
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
    case core::ErrorCode::kFailedPrecondition:
      return 409;
    case core::ErrorCode::kThrottled:
      return 429;
    case core::ErrorCode::kModelError:
      return 502;
    case core::ErrorCode::kUnavailable:
      return 503;
    case core::ErrorCode::kTimeout:
      return 504;
    case core::ErrorCode::kInternal:
      return 500;
    case core::ErrorCode::kUnimplemented:
      return 501;
  }
  return 500;
}

// The error kind a control API answer's status stands for (the CLI's client):
// HttpStatusFor read backwards, where 409 reads as the refused transition
// (kFailedPrecondition), 413 and 415 as validation, and any other status
// (502 included) as internal.
constexpr core::ErrorCode ErrorCodeForStatus(long status) {
  switch (status) {
    case 400:
    case 413:
    case 415:
      return core::ErrorCode::kValidation;
    case 401:
      return core::ErrorCode::kUnauthenticated;
    case 403:
      return core::ErrorCode::kPermissionDenied;
    case 404:
      return core::ErrorCode::kNotFound;
    case 409:
      return core::ErrorCode::kFailedPrecondition;
    case 429:
      return core::ErrorCode::kThrottled;
    case 503:
      return core::ErrorCode::kUnavailable;
    case 504:
      return core::ErrorCode::kTimeout;
    default:
      return core::ErrorCode::kInternal;
  }
}

}  // namespace mlcanary::http

#endif  // MLCANARY_HTTP_HTTP_STATUS_H_
