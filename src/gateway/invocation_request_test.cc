#include "gateway/invocation_request.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace mlcanary::gateway {
namespace {

std::string ErrorOf(std::string_view body) {
  auto parsed = ParseInvocationRequest(body);
  if (parsed) return "parsed";
  EXPECT_EQ(parsed.error().code(), core::ErrorCode::kValidation) << body;
  return parsed.error().message();
}

TEST(InvocationRequestTest, ParsesASingleRow) {
  auto r = ParseInvocationRequest(R"({"user_id": "u123", "features": [0.1, 2, -3e2]})");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->user_id, "u123");
  EXPECT_EQ(r->rows, 1u);
  EXPECT_EQ(r->cols, 3u);
  EXPECT_EQ(r->features, (std::vector<float>{0.1f, 2.0f, -300.0f}));
}

TEST(InvocationRequestTest, ParsesInstancesAndRoutesByTheFirstUser) {
  auto r = ParseInvocationRequest(
      R"({"instances": [{"features": [1, 2]}, {"user_id": "b", "features": [3, 4]},
                        {"user_id": "c", "features": [5, 6]}]})");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->user_id, "b");
  EXPECT_EQ(r->rows, 3u);
  EXPECT_EQ(r->cols, 2u);
  EXPECT_EQ(r->features, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(InvocationRequestTest, TopLevelUserIdWinsAndIntegerIdsAreAccepted) {
  auto r = ParseInvocationRequest(
      R"({"user_id": 42, "instances": [{"user_id": "x", "features": [1]}]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->user_id, "42");
  auto anonymous = ParseInvocationRequest(R"({"features": [1], "extra": {"ignored": true}})");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->user_id, "");
}

TEST(InvocationRequestTest, MalformedJsonIsRefused) {
  EXPECT_NE(ErrorOf(R"({"features": [1, 2)").find("not valid JSON"), std::string::npos);
  EXPECT_NE(ErrorOf("").find("not valid JSON"), std::string::npos);
  EXPECT_NE(ErrorOf("features=1,2").find("not valid JSON"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"features": [1]} trailing)").find("not valid JSON"), std::string::npos);
  EXPECT_NE(ErrorOf("[1, 2]").find("must be a JSON object"), std::string::npos);
}

TEST(InvocationRequestTest, MissingFieldsAreRefused) {
  EXPECT_NE(ErrorOf(R"({"user_id": "u"})").find("needs \"features\" or \"instances\""),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"instances": [{"user_id": "u"}]})").find("instances[0] needs"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"features": []})").find("must not be empty"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"instances": []})").find("must not be empty"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"features": [1], "instances": [{"features": [1]}]})").find("both"),
            std::string::npos);
}

TEST(InvocationRequestTest, WrongTypesAreRefused) {
  EXPECT_NE(ErrorOf(R"({"features": "1,2"})").find("features must be an array"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"features": [1, "2"]})").find("features[1] must be a number"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"features": [1, null]})").find("features[1] must be a number"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"features": [true]})").find("features[0] must be a number"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"features": [[1]]})").find("features[0] must be a number"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"user_id": ["u"], "features": [1]})").find("user_id must be a string"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"user_id": 1.5, "features": [1]})").find("user_id must be a string"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"instances": {"features": [1]}})").find("instances must be an array"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"instances": [[1, 2]]})").find("instances[0] must be an object"),
            std::string::npos);
}

TEST(InvocationRequestTest, NonFiniteNumbersAreRefused) {
  EXPECT_NE(ErrorOf(R"({"features": [NaN]})").find("not valid JSON"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"features": [Infinity]})").find("not valid JSON"), std::string::npos);
  // Finite as a double, not as a 32-bit float.
  EXPECT_NE(ErrorOf(R"({"features": [1, 1e39]})").find("features[1] is not a finite number"),
            std::string::npos);
  // Beyond double: refused either by the parser or as non-finite.
  EXPECT_NE(ErrorOf(R"({"features": [1e400]})"), "parsed");
}

TEST(InvocationRequestTest, RaggedInstancesAreRefused) {
  EXPECT_NE(ErrorOf(R"({"instances": [{"features": [1, 2]}, {"features": [1]}]})")
                .find("instances[1].features has 1 features"),
            std::string::npos);
}

TEST(InvocationRequestTest, DeepNestingIsRefused) {
  std::string deep =
      R"({"features": [1], "x": )" + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_NE(ErrorOf(deep), "parsed");
}

TEST(InvocationRequestTest, LargeBatchParses) {
  std::string body = R"({"instances": [)";
  for (int i = 0; i < 1000; ++i) {
    if (i > 0) body += ",";
    body += R"({"features": [0.5, 0.25, 0.125, 1, 2, 3, 4, 5]})";
  }
  body += "]}";
  auto r = ParseInvocationRequest(body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rows, 1000u);
  EXPECT_EQ(r->features.size(), 8000u);
}

// The single-row fast path must agree with Boost.JSON on what it accepts, and
// leave everything else (errors included) to the general path.
TEST(InvocationRequestTest, SingleRowBodiesAgreeWithBoostJson) {
  for (std::string_view body : {
           R"({"user_id":"u1","features":[0.9,0.1,0.5,0.5,0.5,0.5,0.5,3.5]})",
           R"(  {"features" : [ -0 , 0.0, 1E+2, 1e-2, -3.25e1, 12345678901234567890 ] ,
                "user_id":"abc"}  )",
           R"({"features":[3.4028234663852886e38, 1e-46, 0.1, 123456789]})",
           R"({"user_id":"","features":[1]})",
       }) {
    auto r = ParseInvocationRequest(body);
    ASSERT_TRUE(r) << body;
    const auto doc = boost::json::parse(body).as_object();
    std::vector<float> expected;
    for (const auto& v : doc.at("features").as_array()) {
      expected.push_back(static_cast<float>(v.to_number<double>()));
    }
    EXPECT_EQ(r->features, expected) << body;
    EXPECT_EQ(r->rows, 1u);
    EXPECT_EQ(r->cols, expected.size());
    const auto* user = doc.if_contains("user_id");
    EXPECT_EQ(r->user_id, user ? std::string(user->as_string()) : "") << body;
  }
}

TEST(InvocationRequestTest, UnusualSingleRowBodiesTakeTheGeneralPath) {
  // Escapes, duplicates, integer ids, unknown keys: same answers as ever.
  auto escaped = ParseInvocationRequest(R"({"user_id":"a\"b\u0041","features":[1]})");
  ASSERT_TRUE(escaped);
  EXPECT_EQ(escaped->user_id, "a\"bA");
  auto integer = ParseInvocationRequest(R"({"user_id":7,"features":[1]})");
  ASSERT_TRUE(integer);
  EXPECT_EQ(integer->user_id, "7");
  auto extra = ParseInvocationRequest(R"({"features":[1,2],"x":[{}]})");
  ASSERT_TRUE(extra);
  EXPECT_EQ(extra->features, (std::vector<float>{1, 2}));
  EXPECT_NE(ErrorOf(R"({"features":[01]})").find("not valid JSON"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"features":[1.]})").find("not valid JSON"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"features":[1,]})").find("not valid JSON"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"features":[1e39]})").find("features[0] is not a finite number"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"features":[1, "2"]})").find("features[1] must be a number"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"features":[]})").find("must not be empty"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"features":[1]}x)").find("not valid JSON"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"user_id":"u"})").find("needs \"features\""), std::string::npos);
}

}  // namespace
}  // namespace mlcanary::gateway
