#include "util/json_writer.h"

#include <gtest/gtest.h>

#include <limits>

namespace mlcanary::util {
namespace {

TEST(JsonWriterTest, WritesShortestRoundTripNumbers) {
  JsonWriter w;
  w.BeginArray().Number(0.1).Number(10.0).Number(0.30000000000000004).Number(-2.5).EndArray();
  EXPECT_EQ(w.str(), "[0.1,10,0.30000000000000004,-2.5]");
}

TEST(JsonWriterTest, FloatsAreShortestAsFloats) {
  std::string out;
  AppendJsonNumber(out, 0.42f);
  out += ',';
  AppendJsonNumber(out, 0.9972415f);
  EXPECT_EQ(out, "0.42,0.9972415");
}

TEST(JsonWriterTest, NonFiniteNumbersBecomeNull) {
  JsonWriter w;
  w.BeginArray()
      .Number(std::numeric_limits<double>::quiet_NaN())
      .Number(std::numeric_limits<double>::infinity())
      .EndArray();
  EXPECT_EQ(w.str(), "[null,null]");
}

TEST(JsonWriterTest, EscapesControlCharactersAndQuotes) {
  JsonWriter w;
  w.BeginObject().Key("k\"").String("a\nb\x01\\").EndObject();
  EXPECT_EQ(w.str(), "{\"k\\\"\":\"a\\nb\\u0001\\\\\"}");
}

// Found by fuzz/control_api: a request path with bytes that are not UTF-8,
// echoed in an error message, made the answer invalid JSON.
TEST(JsonWriterTest, WritesOnlyValidUtf8) {
  JsonWriter w;
  w.BeginArray()
      .String("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")  // well-formed: kept as is
      .String(
          "a\xff"
          "b\xc3")  // a stray byte, a cut sequence
      .String(
          "\xc0\xaf"
          "\xed\xa0\x80"
          "\xf4\x90\x80\x80")  // overlong, surrogate, > U+10FFFF
      .EndArray();
  EXPECT_EQ(w.str(),
            "[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","
            "\"a\\ufffdb\\ufffd\","
            "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"]");
}

TEST(JsonWriterTest, NestsObjectsAndArraysWithCommas) {
  JsonWriter w;
  w.BeginObject()
      .Key("a")
      .Int(1)
      .Key("b")
      .BeginArray()
      .Bool(true)
      .Null()
      .EndArray()
      .Key("c")
      .BeginObject()
      .EndObject()
      .EndObject();
  EXPECT_EQ(w.str(), "{\"a\":1,\"b\":[true,null],\"c\":{}}");
}

TEST(JsonWriterTest, PrettyPrintsWithIndent) {
  JsonWriter w(2);
  w.BeginObject().Key("a").BeginArray().Int(1).EndArray().EndObject();
  EXPECT_EQ(w.str(), "{\n  \"a\": [\n    1\n  ]\n}");
}

}  // namespace
}  // namespace mlcanary::util
