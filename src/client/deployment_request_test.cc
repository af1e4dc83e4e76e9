// Tests of the deploy flags' request body.
#include "client/deployment_request.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace mlcanary::client {
namespace {

TEST(PolicyFromPairsTest, TypesTheValues) {
  auto p = PolicyFromPairs({"bake=2s", "steps=0.1,0.5,1", "min_invocations=20",
                            "max_error_rate=0.02", "auto_rollback=false", "max_p99_ms=100.0"});
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(boost::json::serialize(*p),
            R"({"bake":"2s","steps":[1E-1,5E-1,1E0],"min_invocations":20,)"
            R"("max_error_rate":2E-2,"auto_rollback":false,"max_p99_ms":1E2})");
}

TEST(PolicyFromPairsTest, NamesWhatIsWrong) {
  auto no_eq = PolicyFromPairs({"bake"});
  ASSERT_FALSE(no_eq);
  EXPECT_EQ(no_eq.error().code(), core::ErrorCode::kValidation);
  EXPECT_EQ(no_eq.error().message(), "--policy 'bake': expected KEY=VALUE");
  auto step = PolicyFromPairs({"steps=0.1,x"});
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error().message(), "--policy steps: 'x' is not a number");
}

TEST(RequestBodyTest, WritesOnlyWhatWasGiven) {
  DeploymentRequest r{.endpoint = "recs", .model_path = "m.json"};
  EXPECT_EQ(RequestBody(r),
            R"({"endpoint":"recs","model":{"kind":"xgboost","path":"m.json"},"instances":1})");
  r = {.endpoint = "recs",
       .model_kind = "http",
       .model_url = "http://127.0.0.1:9001",
       .variant = "v2",
       .instances = 2,
       .keep_previous = true};
  r.policy["bake"] = "1m";
  EXPECT_EQ(RequestBody(r),
            R"({"endpoint":"recs","model":{"kind":"http","url":"http://127.0.0.1:9001"},)"
            R"("variant":"v2","instances":2,"keep_previous":true,"policy":{"bake":"1m"}})");
}

TEST(CheckModelFlagsTest, EachKindNeedsItsFlag) {
  EXPECT_EQ(CheckModelFlags({.model_kind = "xgboost"}).error().message(),
            "--model-path is required");
  EXPECT_EQ(CheckModelFlags({.model_kind = "http"}).error().message(),
            "--model-url is required for http");
  EXPECT_EQ(CheckModelFlags({.model_kind = "sagemaker"}).error().message(),
            "--model-name (the SageMaker model) is required for sagemaker");
  EXPECT_TRUE(CheckModelFlags({.model_kind = "sagemaker", .model_name = "m"}));
}

}  // namespace
}  // namespace mlcanary::client
