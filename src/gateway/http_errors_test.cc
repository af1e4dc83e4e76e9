#include "gateway/http_errors.h"

#include <gtest/gtest.h>

namespace mlcanary::gateway {
namespace {

TEST(HttpErrorsTest, EveryErrorCodeMapsToTheStatusOfApiMd) {
  using core::ErrorCode;
  EXPECT_EQ(HttpStatusFor(ErrorCode::kValidation), 400);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kConflict), 409);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kFailedPrecondition), 409);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kThrottled), 429);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kInternal), 500);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kModelError), 502);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kTimeout), 504);
}

TEST(HttpErrorsTest, ErrorJsonEscapesTheMessage) {
  EXPECT_EQ(ErrorJson(core::Error(core::ErrorCode::kValidation, "bad \"x\"\n")),
            R"({"error":{"code":"ValidationError","message":"bad \"x\"\n"}})");
}

}  // namespace
}  // namespace mlcanary::gateway
