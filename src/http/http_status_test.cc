#include "http/http_status.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace mlcanary::http {
namespace {

using core::ErrorCode;

TEST(HttpStatusTest, ErrorCodeForStatusReadsHttpStatusForBackwards) {
  for (ErrorCode code :
       {ErrorCode::kValidation, ErrorCode::kNotFound, ErrorCode::kFailedPrecondition,
        ErrorCode::kUnauthenticated, ErrorCode::kPermissionDenied, ErrorCode::kThrottled,
        ErrorCode::kUnavailable, ErrorCode::kTimeout, ErrorCode::kInternal}) {
    EXPECT_EQ(ErrorCodeForStatus(HttpStatusFor(code)), code) << core::ErrorCodeName(code);
  }
}

TEST(HttpStatusTest, StatusesSharedOrUnknownToTheClientReadAsOneKind) {
  // 409 stands for both a conflict and a refused transition.
  EXPECT_EQ(ErrorCodeForStatus(HttpStatusFor(ErrorCode::kConflict)),
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(ErrorCodeForStatus(413), ErrorCode::kValidation);
  EXPECT_EQ(ErrorCodeForStatus(415), ErrorCode::kValidation);
  EXPECT_EQ(ErrorCodeForStatus(HttpStatusFor(ErrorCode::kModelError)), ErrorCode::kInternal);
  EXPECT_EQ(ErrorCodeForStatus(HttpStatusFor(ErrorCode::kUnimplemented)), ErrorCode::kInternal);
  EXPECT_EQ(ErrorCodeForStatus(0), ErrorCode::kInternal);
  EXPECT_EQ(ErrorCodeForStatus(418), ErrorCode::kInternal);
}

}  // namespace
}  // namespace mlcanary::http
