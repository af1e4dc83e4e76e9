// Tests of the control API client: ids and query values are percent-encoded,
// so that any text reaches a real HTTP server as one path segment or value.
#include "client/api_client.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "codec/domain_json.h"
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

// A real HTTP server on port 0 answering with `handler`, and a client of it.
class ServedTest : public ::testing::Test {
 protected:
  void Serve(http::Handler handler) {
    server_ = std::make_unique<http::HttpServer>(
        http::ServerOptions{.log = [](http::LogLevel, std::string_view) {}}, std::move(handler));
    ASSERT_TRUE(server_->Start());
    api_ = std::make_unique<ApiClient>(
        ClientOptions{.base_url = "http://127.0.0.1:" + std::to_string(server_->port())});
  }

  std::unique_ptr<http::HttpServer> server_;
  std::unique_ptr<ApiClient> api_;
  std::mutex mu_;
};

// A server that records what it received and answers 404.
class ApiClientTest : public ServedTest {
 protected:
  void SetUp() override {
    Serve([this](const http::Request& r) {
      std::lock_guard lock(mu_);
      seen_ = r;
      return http::ErrorResponse(404, "NotFound", "no deployment " + r.path);
    });
  }

  http::Request Seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

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

TEST(ParseListTimeTest, ReadsADurationBackFromNowOrAnRfc3339Time) {
  const core::Timestamp now{std::chrono::seconds(1'700'000'000)};
  EXPECT_EQ(ParseListTime("--since", "24h", now), now - std::chrono::hours(24));
  EXPECT_EQ(ParseListTime("--since", "90m", now), now - std::chrono::minutes(90));
  EXPECT_EQ(ParseListTime("--until", "2023-11-14T22:13:20Z", now), now);
  for (const char* bad :
       {"", "yesterday", "-1h", "24", "2023-11-14", "2023-11-14T22:13:20+01:00"}) {
    auto t = ParseListTime("--until", bad, now);
    ASSERT_FALSE(t) << bad;
    EXPECT_EQ(t.error().code(), core::ErrorCode::kValidation);
    EXPECT_TRUE(t.error().message().starts_with("--until: ")) << t.error().message();
  }
}

// A server with deployments d4 (newest) .. d0 that pages them as the control
// API does: `limit` a page, next_page_token the index where the next starts.
class PagingServerTest : public ServedTest {
 protected:
  void SetUp() override {
    Serve([this](const http::Request& r) {
      std::lock_guard lock(mu_);
      targets_.push_back(r.target);
      auto number = [&](std::string_view key, std::size_t none) -> std::size_t {
        auto text = r.Query(key);
        return text ? std::stoul(std::string(*text)) : none;
      };
      const std::size_t from = number("page_token", 0);
      const std::size_t to = std::min<std::size_t>(5, from + number("limit", 5));
      std::string body = R"({"deployments":[)";
      for (std::size_t i = from; i < to; ++i) {
        core::Deployment d;
        d.id = "d" + std::to_string(4 - i);
        d.endpoint = "recs";
        d.production_variant = "production";
        d.canary_variant = "canary";
        d.canary_model.path = "recs-v2.json";
        body += (i > from ? "," : "") + codec::DeploymentJson(d);
      }
      body += "]";
      if (to < 5) body += R"(,"next_page_token":")" + std::to_string(to) + "\"";
      return http::JsonResponse(200, body + "}");
    });
  }
  std::vector<std::string> Targets() {
    std::lock_guard lock(mu_);
    return targets_;
  }
  static std::vector<std::string> Ids(const Answer<std::vector<Answer<core::Deployment>>>& a) {
    std::vector<std::string> ids;
    for (const auto& d : a.value) ids.push_back(d.value.id);
    return ids;
  }

  std::vector<std::string> targets_;
};

TEST_F(PagingServerTest, ListAllFollowsPageTokensToTheEnd) {
  auto all =
      api_->ListAllDeployments({.endpoint = "recs",
                                .since = core::Timestamp(std::chrono::seconds(1'700'000'000)),
                                .limit = 2});
  ASSERT_TRUE(all) << all.error().ToString();
  EXPECT_EQ(Ids(*all), (std::vector<std::string>{"d4", "d3", "d2", "d1", "d0"}));
  EXPECT_EQ(all->json.at("deployments").as_array().size(), 5u);
  EXPECT_FALSE(all->json.as_object().contains("next_page_token"));
  EXPECT_EQ(Targets(), (std::vector<std::string>{
                           "/v1/deployments?endpoint=recs&since=2023-11-14T22%3A13%3A20Z&limit=2",
                           "/v1/deployments?endpoint=recs&since=2023-11-14T22%3A13%3A20Z&limit=2"
                           "&page_token=2",
                           "/v1/deployments?endpoint=recs&since=2023-11-14T22%3A13%3A20Z&limit=2"
                           "&page_token=4"}));
}

TEST_F(PagingServerTest, ListAllStopsAtMaxAndHandsBackTheToken) {
  auto some = api_->ListAllDeployments({.limit = 2}, 3);
  ASSERT_TRUE(some) << some.error().ToString();
  EXPECT_EQ(Ids(*some), (std::vector<std::string>{"d4", "d3", "d2"}));
  EXPECT_EQ(some->json.at("next_page_token"), "3");
  EXPECT_EQ(Targets(), (std::vector<std::string>{"/v1/deployments?limit=2",
                                                 "/v1/deployments?limit=1&page_token=2"}));
}

}  // namespace
}  // namespace mlcanary::client
