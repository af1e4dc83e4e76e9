// Tests of the control API client: ids and query values are percent-encoded,
// so that any text reaches a real HTTP server as one path segment or value.
#include "client/api_client.h"

#include <gtest/gtest.h>

#include <mutex>
#include <string>

#include "http/http_server.h"

namespace mlcanary::client {
namespace {

TEST(PercentEncodeTest, KeepsUnreservedCharacters) {
  EXPECT_EQ(PercentEncode("dep-0123456789abcdef"), "dep-0123456789abcdef");
  EXPECT_EQ(PercentEncode("A-Z_a.z~09"), "A-Z_a.z~09");
  EXPECT_EQ(PercentEncode(""), "");
}

TEST(PercentEncodeTest, EncodesEverythingElse) {
  EXPECT_EQ(PercentEncode("' OR 1=1 --"), "%27%20OR%201%3D1%20--");
  EXPECT_EQ(PercentEncode("a/b?c#d&e+f%"), "a%2Fb%3Fc%23d%26e%2Bf%25");
  EXPECT_EQ(PercentEncode("\xc3\xa9\n"), "%C3%A9%0A");  // UTF-8 bytes, control characters
}

// A real HTTP server that records what it received and answers 404.
class ApiClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<http::HttpServer>(
        http::ServerOptions{.log = [](http::LogLevel, std::string_view) {}},
        [this](const http::Request& r) {
          std::lock_guard lock(mu_);
          seen_ = r;
          return http::ErrorResponse(404, "NotFound", "no deployment " + r.path);
        });
    ASSERT_TRUE(server_->Start());
    api_ = std::make_unique<ApiClient>(
        ClientOptions{.base_url = "http://127.0.0.1:" + std::to_string(server_->port())});
  }

  http::Request Seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

  std::unique_ptr<http::HttpServer> server_;
  std::unique_ptr<ApiClient> api_;
  std::mutex mu_;
  http::Request seen_;
};

TEST_F(ApiClientTest, EncodedIdArrivesAsOneSegmentAndTheAnswerIsNotFound) {
  const std::string id = "' OR 1=1 --";
  auto r = api_->Call("GET", "/v1/deployments/" + PercentEncode(id) + "/events");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), core::ErrorCode::kNotFound) << r.error().ToString();
  EXPECT_EQ(r.error().message(), "no deployment /v1/deployments/' OR 1=1 --/events");
  const http::Request seen = Seen();
  EXPECT_EQ(seen.target, "/v1/deployments/%27%20OR%201%3D1%20--/events");
  EXPECT_EQ(seen.path, "/v1/deployments/" + id + "/events");
}

TEST_F(ApiClientTest, EncodedQueryValuesArriveWhole) {
  auto r = api_->Call("GET", "/v1/deployments?endpoint=" + PercentEncode("a&state=b c+d") +
                                 "&state=" + PercentEncode("x#y"));
  ASSERT_FALSE(r);
  const http::Request seen = Seen();
  EXPECT_EQ(seen.path, "/v1/deployments");
  EXPECT_EQ(seen.Query("endpoint"), "a&state=b c+d");
  EXPECT_EQ(seen.Query("state"), "x#y");
}

}  // namespace
}  // namespace mlcanary::client
