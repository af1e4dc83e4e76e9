// The fixture starts the harness, and its control calls reach the running proxy.
#include "moto_fixture.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

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
