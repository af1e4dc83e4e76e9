#include "models/internal/upstream_predictions.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace mlcanary::models::internal {
namespace {

TEST(UpstreamPredictionsTest, FastPathReadsThePredictionsShape) {
  Predictions out;
  ASSERT_TRUE(ParsePredictionsFast(R"({"predictions":[0.25]})", 1, out));
  EXPECT_EQ(out.values, (std::vector<float>{0.25f}));
  EXPECT_EQ(out.rows, 1u);
  EXPECT_EQ(out.per_row, 1u);
  ASSERT_TRUE(ParsePredictionsFast(" {\n \"predictions\" : [ 1 , -2.5e-1,3E2 ] }\r\n", 3, out));
  EXPECT_EQ(out.values, (std::vector<float>{1.0f, -0.25f, 300.0f}));
  ASSERT_TRUE(ParsePredictionsFast(R"({"predictions":[]})", 0, out));
  EXPECT_TRUE(out.values.empty());
}

TEST(UpstreamPredictionsTest, FastPathLeavesEverythingElseToBoostJson) {
  Predictions out;
  for (const char* body : {
           R"({"predictions":[0.5]})",              // wrong count (2 rows asked)
           R"({"predictions":[[0.1,0.9],[1,0]]})",  // nested
           R"({"predictions":[{"score":0.5},{"score":1}]})",
           R"({"predictions":[0.5,0.5],"model":"a"})",  // more keys
           R"({"model":"a","predictions":[0.5,0.5]})",
           R"({"predictions":[0.5,0.5]}x)",  // trailing garbage
           R"({"predictions":[0.5,0.5])",    // cut off
           R"({"predictions":[0.5,,0.5]})",
           R"({"predictions":[0.5,0.5,]})",
           R"({"predictions":[01,0.5]})",  // not JSON numbers
           R"({"predictions":[.5,0.5]})",
           R"({"predictions":[1.,0.5]})",
           R"({"predictions":[+1,0.5]})",
           R"({"predictions":[NaN,0.5]})",
           R"({"predictions":[inf,0.5]})",
           R"({"predictions":[0x1,0.5]})",
           R"({"predictions":[1e999,0.5]})",  // out of a double's range
           R"({"predictions":["0.5",0.5]})",
           R"({"predictions\u0073":[0.5,0.5]})",  // escaped key: Boost.JSON decides
       }) {
    EXPECT_FALSE(ParsePredictionsFast(body, 2, out)) << body;
  }
}

// Wherever the fast path reads a body, Boost.JSON reads the same values; where
// the fast path declines, the caller's answer is Boost.JSON's.
TEST(UpstreamPredictionsTest, FastPathAgreesWithBoostJson) {
  std::vector<std::string> bodies = {
      R"({"predictions":[0.25]})",
      R"({"predictions": [0, -0, 1, -1, 12345678, 0.1, 0.2, 0.3]})",
      R"({"predictions":[1e-45, 3.4028234e38, 1e-7, 0.333333333333333333333]})",
      R"({"predictions":[3.5e38, -3.5e38, 5e-324, 2.2250738585072014e-308]})",
      R"({"predictions":[123456789012345678, 9007199254740993, 1E+2, 7e-0]})",
      "\t{\"predictions\":\n[0.5,\r\n0.75]}\n",
  };
  // Deterministic spread of magnitudes and digit counts.
  std::string many = R"({"predictions":[)";
  std::uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 500; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    if (i > 0) many += ",";
    const double value = static_cast<double>(x % 2000000) / 1000.0 - 1000.0;
    many += std::to_string(value) + (i % 3 == 0 ? "e" + std::to_string(int(x % 40) - 20) : "");
  }
  bodies.push_back(many + "]}");
  for (const auto& body : bodies) {
    const std::size_t rows =
        static_cast<std::size_t>(std::count(body.begin(), body.end(), ',')) + 1;
    Predictions fast;
    ASSERT_TRUE(ParsePredictionsFast(body, rows, fast)) << body;
    auto slow = ParseJsonPredictions(body, rows);
    ASSERT_TRUE(slow) << slow.error().ToString();
    EXPECT_EQ(fast.rows, slow->rows);
    EXPECT_EQ(fast.per_row, slow->per_row);
    ASSERT_EQ(fast.values.size(), slow->values.size());
    for (std::size_t i = 0; i < fast.values.size(); ++i) {
      EXPECT_EQ(fast.values[i], slow->values[i]) << "value " << i << " of " << body.substr(0, 80);
    }
  }
}

TEST(UpstreamPredictionsTest, BoostJsonReaderNamesWhatIsWrong) {
  auto error = [](std::string_view body, std::size_t rows) {
    auto out = ParseJsonPredictions(body, rows);
    EXPECT_FALSE(out) << body;
    EXPECT_EQ(out.error().code(), core::ErrorCode::kModelError);
    return out.error().message();
  };
  EXPECT_EQ(error(R"({"predictions":[0.5]})", 2), "upstream returned 1 predictions for 2 rows");
  EXPECT_EQ(error(R"({"error":"boom"})", 1), "upstream JSON answer has no \"predictions\"");
  EXPECT_EQ(error(R"({"predictions":[0.5)", 1), "upstream answer is not valid JSON");
  EXPECT_EQ(error(R"({"predictions":["a"]})", 1), "upstream prediction is not a number");
  EXPECT_EQ(error(R"({"predictions":[[1],[1,2]]})", 2),
            "upstream prediction rows differ in length");
  auto multi = ParseJsonPredictions(R"([[0.1,0.9],[0.8,0.2]])", 2);
  ASSERT_TRUE(multi);
  EXPECT_EQ(multi->per_row, 2u);
  EXPECT_EQ(multi->values, (std::vector<float>{0.1f, 0.9f, 0.8f, 0.2f}));
}

}  // namespace
}  // namespace mlcanary::models::internal
