#include "http/message.h"

#include <gtest/gtest.h>

namespace mlcanary::http {
namespace {

TEST(ParseTargetTest, SplitsAndDecodesPathAndQuery) {
  std::string path;
  std::map<std::string, std::string, std::less<>> query;
  ASSERT_TRUE(ParseTarget("/v1/a%20b?state=IN_PROGRESS&x=1+2&x=3&flag&e=%3D", path, query));
  EXPECT_EQ(path, "/v1/a b");
  EXPECT_EQ(query.at("state"), "IN_PROGRESS");
  EXPECT_EQ(query.at("x"), "1 2");  // the first value wins
  EXPECT_EQ(query.at("flag"), "");
  EXPECT_EQ(query.at("e"), "=");
}

TEST(ParseTargetTest, RefusesBadEscapesAndNonOriginForm) {
  std::string path;
  std::map<std::string, std::string, std::less<>> query;
  EXPECT_FALSE(ParseTarget("/v1/%zz", path, query));
  EXPECT_FALSE(ParseTarget("/v1/%2", path, query));
  EXPECT_FALSE(ParseTarget("/v1?a=%", path, query));
  EXPECT_FALSE(ParseTarget("http://host/v1", path, query));
  EXPECT_FALSE(ParseTarget("", path, query));
}

TEST(RequestTest, HeadersIgnoreCase) {
  Request r;
  r.headers.emplace("Content-Type", "application/json");
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.Header("CONTENT-TYPE"), "application/json");
  EXPECT_EQ(r.Header("Authorization"), "");
}

TEST(ErrorResponseTest, WritesTheErrorObject) {
  Response r = ErrorResponse(404, "NotFound", "no \"x\"");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"error":{"code":"NotFound","message":"no \"x\""}})");
}

}  // namespace
}  // namespace mlcanary::http
