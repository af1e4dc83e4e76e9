// The fixture starts the harness, and its control calls reach the running proxy.
#include "moto_fixture.h"

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <string>

namespace mlcanary::testing {
namespace {

TEST(MotoHarnessTest, StartsInjectsFaultsResetsAndReportsNoViolations) {
  auto started = MotoHarness::Start();
  ASSERT_TRUE(started.has_value()) << started.error().ToString();
  MotoHarness& harness = **started;
  EXPECT_TRUE(harness.url().starts_with("http://127.0.0.1:")) << harness.url();
  EXPECT_NE(harness.url(), harness.moto_url());

  auto injected = harness.InjectFault("UpdateEndpointWeightsAndCapacities", 2, 400,
                                      "ThrottlingException", "Rate exceeded");
  ASSERT_TRUE(injected.has_value()) << injected.error().ToString();
  auto reset = harness.Reset();
  ASSERT_TRUE(reset.has_value()) << reset.error().ToString();

  auto violations = harness.Violations();
  ASSERT_TRUE(violations.has_value()) << violations.error().ToString();
  EXPECT_EQ(boost::json::parse(*violations), boost::json::parse("[]"));
  auto requests = harness.Requests();
  ASSERT_TRUE(requests.has_value()) << requests.error().ToString();
  EXPECT_EQ(boost::json::parse(*requests), boost::json::parse("[]"));
  auto sns = harness.SnsMessages();
  ASSERT_TRUE(sns.has_value()) << sns.error().ToString();
  EXPECT_TRUE(boost::json::parse(*sns).is_array());
}

size_t AppendBody(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// A JSON 1.1 SageMaker request signed by libcurl's CURLOPT_AWS_SIGV4, as the
// adapters sign theirs. Returns the HTTP status; the body goes to `response`.
long SignedSageMakerPost(const std::string& url, const std::string& target, const std::string& body,
                         const char* secret, const std::string& session_token,
                         std::string* response) {
  CURL* easy = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/x-amz-json-1.1");
  headers = curl_slist_append(headers, ("X-Amz-Target: SageMaker." + target).c_str());
  if (!session_token.empty()) {
    headers = curl_slist_append(headers, ("X-Amz-Security-Token: " + session_token).c_str());
  }
  curl_easy_setopt(easy, CURLOPT_URL, (url + "/").c_str());
  curl_easy_setopt(easy, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:sagemaker");
  curl_easy_setopt(easy, CURLOPT_USERNAME, MotoHarness::kAccessKey);
  curl_easy_setopt(easy, CURLOPT_PASSWORD, secret);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, response);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 30000L);
  long status = 0;
  if (curl_easy_perform(easy) == CURLE_OK) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(easy);
  return status;
}

TEST(MotoHarnessTest, LibcurlSignedRequestsPassTheChecksAndAWrongSecretDoesNot) {
  auto started = MotoHarness::Start();
  ASSERT_TRUE(started.has_value()) << started.error().ToString();
  MotoHarness& harness = **started;

  std::string response;
  EXPECT_EQ(SignedSageMakerPost(harness.url(), "DescribeEndpoint", R"({"EndpointName":"nope"})",
                                MotoHarness::kSecretKey, "session-token-1", &response),
            400);
  EXPECT_NE(response.find("ValidationException"), std::string::npos) << response;
  response.clear();
  EXPECT_EQ(SignedSageMakerPost(harness.url(), "ListEndpoints", "{}", MotoHarness::kSecretKey, "",
                                &response),
            200)
      << response;
  EXPECT_EQ(boost::json::parse(*harness.Violations()), boost::json::parse("[]"));
  const boost::json::value requests = boost::json::parse(*harness.Requests());
  ASSERT_EQ(requests.as_array().size(), 2u);
  EXPECT_EQ(requests.at(0).at("operation"), "DescribeEndpoint");
  EXPECT_EQ(requests.at(0).at("signature_ok"), true);

  ASSERT_TRUE(harness.Reset().has_value());
  response.clear();
  SignedSageMakerPost(harness.url(), "ListEndpoints", "{}", "wrong-secret", "", &response);
  const boost::json::value violations = boost::json::parse(*harness.Violations());
  ASSERT_EQ(violations.as_array().size(), 1u) << *harness.Violations();
  EXPECT_EQ(violations.at(0).at("kind"), "signature");

  ASSERT_TRUE(harness.Reset().has_value());
  ASSERT_TRUE(harness.InjectFault("ListEndpoints", 1, 503, "ServiceUnavailable").has_value());
  response.clear();
  EXPECT_EQ(SignedSageMakerPost(harness.url(), "ListEndpoints", "{}", MotoHarness::kSecretKey, "",
                                &response),
            503);
  EXPECT_NE(response.find("ServiceUnavailable"), std::string::npos) << response;
}

TEST(MotoHarnessTest, RejectsAFaultWithoutAnErrorStatus) {
  auto started = MotoHarness::Start();
  ASSERT_TRUE(started.has_value()) << started.error().ToString();
  auto injected = (*started)->InjectFault("UpdateEndpoint", 1, 200, "Ok");
  ASSERT_FALSE(injected.has_value());
  EXPECT_EQ(injected.error().code(), core::ErrorCode::kValidation);
}

TEST(MotoHarnessTest, StartFailsWithTheHarnessOutputWhenPythonCannotRunIt) {
  ::setenv("MLCANARY_PYTHON", "false", 1);
  auto started = MotoHarness::Start();
  ::unsetenv("MLCANARY_PYTHON");
  ASSERT_FALSE(started.has_value());
  EXPECT_EQ(started.error().code(), core::ErrorCode::kUnavailable);
  EXPECT_NE(started.error().message().find("exited"), std::string::npos)
      << started.error().message();
}

}  // namespace
}  // namespace mlcanary::testing
