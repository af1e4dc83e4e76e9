// Reading the query API's answers: the documented shapes, and every malformed
// one refused with a message that says what is wrong.
#include "prometheus/query_answer.h"

#include <gtest/gtest.h>

#include <cmath>

namespace mlcanary::prometheus {
namespace {

constexpr std::string_view kTwoVariants = R"({"status":"success","data":{"resultType":"vector",
  "result":[{"metric":{"variant":"canary"},"value":[1700000000.25,"1003.4"]},
            {"metric":{"variant":"production"},"value":[1700000000.25,"0"]}]}})";

// The error message, expecting the answer to be refused as retryable.
std::string Refusal(long status, std::string_view body) {
  auto r = ParseVectorAnswer(status, body);
  if (r) return "accepted";
  EXPECT_EQ(r.error().code(), core::ErrorCode::kUnavailable) << r.error().ToString();
  EXPECT_EQ(r.error().message().find('\n'), std::string::npos) << r.error().message();
  return r.error().message();
}

TEST(ParseVectorAnswerTest, ReadsSamplesWithLabelsAndValues) {
  auto r = ParseVectorAnswer(200, kTwoVariants);
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].labels.at("variant"), "canary");
  EXPECT_DOUBLE_EQ((*r)[0].value, 1003.4);
  EXPECT_EQ((*r)[1].labels.at("variant"), "production");
  EXPECT_EQ((*r)[1].value, 0);
}

TEST(ParseVectorAnswerTest, EmptyResultIsNoSamples) {
  auto r = ParseVectorAnswer(
      200, R"({"status":"success","data":{"resultType":"vector","result":[]},"warnings":["x"]})");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_TRUE(r->empty());
}

TEST(ParseVectorAnswerTest, NanAndInfinitiesAreKeptAsPrometheusWroteThem) {
  auto r = ParseVectorAnswer(200, R"({"status":"success","data":{"resultType":"vector","result":[
      {"metric":{"variant":"a"},"value":[1,"NaN"]},{"metric":{"variant":"b"},"value":[1,"+Inf"]},
      {"metric":{"variant":"c"},"value":[1,"-Inf"]},{"metric":{},"value":[1,"1e-3"]}]}})");
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_TRUE(std::isnan((*r)[0].value));
  EXPECT_EQ((*r)[1].value, INFINITY);
  EXPECT_EQ((*r)[2].value, -INFINITY);
  EXPECT_DOUBLE_EQ((*r)[3].value, 0.001);
  EXPECT_TRUE((*r)[3].labels.empty());
}

TEST(ParseVectorAnswerTest, PrometheusErrorsCarryTheirTypeAndText) {
  EXPECT_EQ(Refusal(400, R"({"status":"error","errorType":"bad_data",
                             "error":"1:5: parse error: unexpected\nthing"})"),
            "HTTP 400, bad_data: 1:5: parse error: unexpected thing");
  EXPECT_EQ(Refusal(503, R"({"status":"error","errorType":"unavailable","error":"busy"})"),
            "HTTP 503, unavailable: busy");
  // An error body even with a 200.
  EXPECT_EQ(Refusal(200, R"({"status":"error","errorType":"timeout","error":"slow"})"),
            "HTTP 200, timeout: slow");
}

TEST(ParseVectorAnswerTest, HttpErrorsWithoutPrometheusBodyShowTheBodysStart) {
  EXPECT_EQ(Refusal(502, "<html>\n<h1>Bad Gateway</h1></html>"),
            "HTTP 502: '<html> <h1>Bad Gateway</h1></html>'");
  EXPECT_EQ(Refusal(404, ""), "HTTP 404: ''");
  const std::string long_body(500, 'x');
  EXPECT_EQ(Refusal(500, long_body), "HTTP 500: '" + std::string(120, 'x') + "...'");
}

TEST(ParseVectorAnswerTest, MalformedAnswersSayWhatIsWrong) {
  EXPECT_EQ(Refusal(200, "garbage"), "the answer is not JSON: 'garbage'");
  EXPECT_EQ(Refusal(200, R"({"status":"success")"),
            R"(the answer is not JSON: '{"status":"success"')");
  EXPECT_EQ(Refusal(200, "[1,2]"), "the answer is not a JSON object: '[1,2]'");
  EXPECT_EQ(Refusal(200, "{}"), R"(the answer has no "status")");
  EXPECT_EQ(Refusal(200, R"({"status":"pending"})"), "the answer's status is 'pending'");
  EXPECT_EQ(Refusal(200, R"({"status":"success"})"), R"(the answer has no "data" object)");
  EXPECT_EQ(Refusal(200, R"({"status":"success","data":[]})"),
            R"(the answer has no "data" object)");
  EXPECT_EQ(Refusal(200, R"({"status":"success","data":{}})"), "the answer has no data.resultType");
  EXPECT_EQ(Refusal(200, R"({"status":"success","data":{"resultType":"matrix","result":[]}})"),
            "data.resultType is 'matrix', expected 'vector'");
  EXPECT_EQ(Refusal(200, R"({"status":"success","data":{"resultType":"scalar","result":[1,"2"]}})"),
            "data.resultType is 'scalar', expected 'vector'");
  EXPECT_EQ(Refusal(200, R"({"status":"success","data":{"resultType":"vector"}})"),
            "the answer has no data.result array");
  EXPECT_EQ(Refusal(200, R"({"status":"success","data":{"resultType":"vector","result":{}}})"),
            "the answer has no data.result array");
}

TEST(ParseVectorAnswerTest, MalformedSamplesNameTheirIndex) {
  auto one = [](std::string_view sample) {
    return Refusal(200, R"({"status":"success","data":{"resultType":"vector","result":[)" +
                            std::string(R"({"metric":{},"value":[1,"1"]},)") + std::string(sample) +
                            "]}}");
  };
  EXPECT_EQ(one("3"), "data.result[1] is not an object");
  EXPECT_EQ(one(R"({"value":[1,"1"]})"), R"(data.result[1] has no "metric" object)");
  EXPECT_EQ(one(R"({"metric":{"variant":7},"value":[1,"1"]})"),
            "data.result[1].metric.variant is not a string");
  EXPECT_EQ(one(R"({"metric":{}})"), R"(data.result[1].value is not [<time>, "<number>"])");
  EXPECT_EQ(one(R"({"metric":{},"value":[1,2]})"),
            R"(data.result[1].value is not [<time>, "<number>"])");
  EXPECT_EQ(one(R"({"metric":{},"value":["1","2"]})"),
            R"(data.result[1].value is not [<time>, "<number>"])");
  EXPECT_EQ(one(R"({"metric":{},"value":[1,"2",3]})"),
            R"(data.result[1].value is not [<time>, "<number>"])");
  EXPECT_EQ(one(R"({"metric":{},"value":[1,"12abc"]})"),
            "data.result[1].value '12abc' is not a number");
  EXPECT_EQ(one(R"({"metric":{},"value":[1,""]})"), "data.result[1].value '' is not a number");
}

TEST(ParseSampleValueTest, PrometheusFloatTextOnly) {
  EXPECT_EQ(ParseSampleValue("42"), 42.0);
  EXPECT_EQ(ParseSampleValue("-0.5"), -0.5);
  EXPECT_EQ(ParseSampleValue("1.5e+09"), 1.5e9);
  EXPECT_EQ(ParseSampleValue("+Inf"), INFINITY);
  EXPECT_TRUE(std::isnan(*ParseSampleValue("NaN")));
  EXPECT_EQ(ParseSampleValue("inf"), std::nullopt);
  EXPECT_EQ(ParseSampleValue("1e999"), std::nullopt);
  EXPECT_EQ(ParseSampleValue(" 1"), std::nullopt);
  EXPECT_EQ(ParseSampleValue("0x10"), std::nullopt);
}

TEST(ByVariantTest, MapsByTheVariantLabel) {
  auto r = ByVariant({{{{"variant", "canary"}, {"instance", "a"}}, 1}, {{{"variant", "b"}}, 2}});
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(*r, (std::map<std::string, double>{{"b", 2}, {"canary", 1}}));
}

TEST(ByVariantTest, RefusesSamplesWithoutVariantOrTwiceTheSame) {
  auto missing = ByVariant({{{{"instance", "a"}}, 1}});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "a sample has no variant label");
  auto twice = ByVariant({{{{"variant", "c"}}, 1}, {{{"variant", "c"}}, 2}});
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().message(), "two samples for variant 'c'");
  EXPECT_EQ(twice.error().code(), core::ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace mlcanary::prometheus
