// Tests of the text forms of time: durations ("500ms", "1h30m") and RFC 3339
// UTC timestamps.
#include "core/time.h"

#include <gtest/gtest.h>

#include <chrono>
#include <ostream>
#include <string>

namespace mlcanary::core {

// Readable failure messages (found by argument-dependent lookup through Error).
static void PrintTo(const Result<Duration>& d, std::ostream* os) {
  if (d) {
    *os << d->count() << "ms";
  } else {
    *os << d.error().ToString();
  }
}
static void PrintTo(const Result<Timestamp>& t, std::ostream* os) {
  if (t) {
    *os << FormatRfc3339(*t);
  } else {
    *os << t.error().ToString();
  }
}

namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// 2026-11-28T17:39:58Z, built without parsing.
Timestamp SampleTime() {
  using namespace std::chrono;
  return Timestamp(sys_days(year(2026) / November / 28)) + hours(17) + minutes(39) + seconds(58);
}

// ---- ParseDuration ----

TEST(ParseDurationTest, MillisecondsSuffix) {
  EXPECT_EQ(ParseDuration("500ms"), milliseconds(500));
}

TEST(ParseDurationTest, SecondsSuffix) { EXPECT_EQ(ParseDuration("1s"), seconds(1)); }

TEST(ParseDurationTest, MinutesSuffix) { EXPECT_EQ(ParseDuration("10m"), minutes(10)); }

TEST(ParseDurationTest, HoursSuffix) { EXPECT_EQ(ParseDuration("1h"), hours(1)); }

TEST(ParseDurationTest, CombinedGroupsAddUp) {
  EXPECT_EQ(ParseDuration("1h30m"), hours(1) + minutes(30));
  EXPECT_EQ(ParseDuration("1m30s"), seconds(90));
  EXPECT_EQ(ParseDuration("2h3m4s5ms"), hours(2) + minutes(3) + seconds(4) + milliseconds(5));
}

TEST(ParseDurationTest, FractionalValue) {
  EXPECT_EQ(ParseDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(ParseDuration("0.5m"), seconds(30));
  EXPECT_EQ(ParseDuration("0.25h"), minutes(15));
}

TEST(ParseDurationTest, ZeroIsAccepted) {
  EXPECT_EQ(ParseDuration("0s"), milliseconds(0));
  EXPECT_EQ(ParseDuration("0ms"), milliseconds(0));
}

TEST(ParseDurationTest, EmptyTextIsValidationError) {
  const auto d = ParseDuration("");
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code(), ErrorCode::kValidation);
  EXPECT_FALSE(d.error().retryable());
}

TEST(ParseDurationTest, NumberWithoutUnitIsRefused) {
  const auto d = ParseDuration("10");
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code(), ErrorCode::kValidation);
  EXPECT_NE(d.error().message().find("'10'"), std::string::npos) << d.error().message();
}

TEST(ParseDurationTest, UnknownUnitIsRefused) {
  const auto d = ParseDuration("5x");
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code(), ErrorCode::kValidation);
  EXPECT_NE(d.error().message().find("'5x'"), std::string::npos) << d.error().message();
}

TEST(ParseDurationTest, NegativeValueIsRefused) {
  const auto d = ParseDuration("-1s");
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code(), ErrorCode::kValidation);
}

TEST(ParseDurationTest, MalformedTextsAreRefused) {
  for (const char* text : {"s", "ms", "1 s", " 1s", "1s ", "1S", "1min", "1d", "1us", "1h-30m",
                           "1.5.5s", "abc", "nans", "infs"}) {
    SCOPED_TRACE(text);
    const auto d = ParseDuration(text);
    ASSERT_FALSE(d.has_value()) << d->count() << "ms";
    EXPECT_EQ(d.error().code(), ErrorCode::kValidation);
  }
}

TEST(ParseDurationTest, TrailingNumberAfterValidGroupIsRefused) {
  EXPECT_FALSE(ParseDuration("1m30").has_value());
}

TEST(ParseDurationTest, AbsurdlyLargeValueIsRefused) {
  EXPECT_FALSE(ParseDuration("1e300h").has_value());
}

// ---- FormatDuration ----

TEST(FormatDurationTest, ZeroIsZeroSeconds) { EXPECT_EQ(FormatDuration(milliseconds(0)), "0s"); }

TEST(FormatDurationTest, SubSecondInMilliseconds) {
  EXPECT_EQ(FormatDuration(milliseconds(500)), "500ms");
}

TEST(FormatDurationTest, WholeUnitsUseTheLargestUnit) {
  EXPECT_EQ(FormatDuration(seconds(1)), "1s");
  EXPECT_EQ(FormatDuration(minutes(10)), "10m");
  EXPECT_EQ(FormatDuration(hours(1)), "1h");
  EXPECT_EQ(FormatDuration(hours(25)), "25h");
}

TEST(FormatDurationTest, MixedUnitsOmitZeroGroups) {
  EXPECT_EQ(FormatDuration(hours(1) + minutes(30)), "1h30m");
  EXPECT_EQ(FormatDuration(hours(1) + seconds(1)), "1h1s");
  EXPECT_EQ(FormatDuration(minutes(1) + seconds(30)), "1m30s");
}

TEST(FormatDurationTest, NonWholeSecondsAreWrittenInMilliseconds) {
  EXPECT_EQ(FormatDuration(milliseconds(90500)), "90500ms");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1500ms");
}

TEST(FormatDurationTest, NegativeDurationHasMinusSign) {
  EXPECT_EQ(FormatDuration(-minutes(10)), "-10m");
  EXPECT_EQ(FormatDuration(milliseconds(-500)), "-500ms");
}

TEST(FormatDurationTest, ParseOfFormatIsIdentity) {
  for (Duration d :
       {milliseconds(0), milliseconds(1), milliseconds(500), milliseconds(90500),
        Duration(seconds(1)), Duration(seconds(59)), Duration(minutes(10)),
        Duration(hours(1) + minutes(30)), Duration(hours(2) + seconds(5)), Duration(hours(100))}) {
    SCOPED_TRACE(d.count());
    EXPECT_EQ(ParseDuration(FormatDuration(d)), d);
  }
}

// ---- RFC 3339 ----

TEST(Rfc3339Test, FormatsUtcWithZSuffix) {
  EXPECT_EQ(FormatRfc3339(SampleTime()), "2026-11-28T17:39:58Z");
}

TEST(Rfc3339Test, FormatsMillisecondsOnlyWhenNotZero) {
  EXPECT_EQ(FormatRfc3339(SampleTime() + milliseconds(250)), "2026-11-28T17:39:58.250Z");
  EXPECT_EQ(FormatRfc3339(SampleTime() + milliseconds(5)), "2026-11-28T17:39:58.005Z");
}

TEST(Rfc3339Test, FormatsTheEpoch) {
  EXPECT_EQ(FormatRfc3339(Timestamp{}), "1970-01-01T00:00:00Z");
}

TEST(Rfc3339Test, FormatsBeforeTheEpoch) {
  EXPECT_EQ(FormatRfc3339(Timestamp{} - milliseconds(1)), "1969-12-31T23:59:59.999Z");
}

TEST(Rfc3339Test, ParsesWholeSeconds) {
  EXPECT_EQ(ParseRfc3339("2026-11-28T17:39:58Z"), SampleTime());
}

TEST(Rfc3339Test, ParsesThreeDigitMilliseconds) {
  EXPECT_EQ(ParseRfc3339("2026-11-28T17:39:58.250Z"), SampleTime() + milliseconds(250));
  EXPECT_EQ(ParseRfc3339("2026-11-28T17:39:58.005Z"), SampleTime() + milliseconds(5));
}

TEST(Rfc3339Test, ParsesLeapDay) {
  using namespace std::chrono;
  EXPECT_EQ(ParseRfc3339("2028-02-29T00:00:00Z"), Timestamp(sys_days(year(2028) / February / 29)));
}

TEST(Rfc3339Test, FormatThenParseRoundTrips) {
  for (Timestamp t :
       {Timestamp{}, SampleTime(), SampleTime() + milliseconds(1), SampleTime() + milliseconds(999),
        SampleTime() + hours(24 * 400), Timestamp{} - milliseconds(1)}) {
    const std::string text = FormatRfc3339(t);
    SCOPED_TRACE(text);
    EXPECT_EQ(ParseRfc3339(text), t);
  }
}

TEST(Rfc3339Test, ParseThenFormatRoundTrips) {
  for (const char* text : {"2026-11-28T17:39:58Z", "2026-11-28T17:39:58.250Z",
                           "2000-01-01T00:00:00Z", "2099-12-31T23:59:59.999Z"}) {
    SCOPED_TRACE(text);
    const auto t = ParseRfc3339(text);
    ASSERT_TRUE(t.has_value()) << t.error().ToString();
    EXPECT_EQ(FormatRfc3339(*t), text);
  }
}

TEST(Rfc3339Test, OffsetOtherThanZIsRefusedAsNotUtc) {
  const auto t = ParseRfc3339("2026-11-28T17:39:58+01:00");
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().code(), ErrorCode::kValidation);
  EXPECT_NE(t.error().message().find("UTC"), std::string::npos) << t.error().message();
}

TEST(Rfc3339Test, MissingZoneIsRefused) {
  const auto t = ParseRfc3339("2026-11-28T17:39:58");
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().code(), ErrorCode::kValidation);
}

TEST(Rfc3339Test, MalformedTextsAreRefused) {
  for (const char* text :
       {"", "garbage", "2026-11-28", "2026-11-28 17:39:58Z", "2026-11-28T17:39Z", "17:39:58Z"}) {
    SCOPED_TRACE(text);
    const auto t = ParseRfc3339(text);
    ASSERT_FALSE(t.has_value()) << FormatRfc3339(*t);
    EXPECT_EQ(t.error().code(), ErrorCode::kValidation);
  }
}

TEST(Rfc3339Test, OutOfRangeFieldsAreRefused) {
  for (const char* text : {"2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-02-30T00:00:00Z",
                           "2027-02-29T00:00:00Z", "2026-11-00T00:00:00Z", "2026-11-28T24:00:00Z",
                           "2026-11-28T17:60:00Z", "2026-11-28T17:39:61Z"}) {
    SCOPED_TRACE(text);
    const auto t = ParseRfc3339(text);
    ASSERT_FALSE(t.has_value()) << FormatRfc3339(*t);
    EXPECT_EQ(t.error().code(), ErrorCode::kValidation);
  }
}

// Regression: negative fields ("17:-1:00") were once read as numbers.
TEST(Rfc3339Test, NegativeTimeFieldsAreRefused) {
  for (const char* text :
       {"2026-11-28T17:-1:00Z", "2026-11-28T-1:00:00Z", "2026-11-28T17:00:-1Z"}) {
    SCOPED_TRACE(text);
    const auto t = ParseRfc3339(text);
    EXPECT_FALSE(t.has_value()) << FormatRfc3339(*t);
  }
}

// Regression: fractional seconds are a decimal fraction (".5" is 500 ms).
TEST(Rfc3339Test, FractionalSecondsAreADecimalFraction) {
  const auto half = ParseRfc3339("2026-11-28T17:39:58.5Z");
  ASSERT_TRUE(half.has_value()) << half.error().ToString();
  EXPECT_EQ(FormatRfc3339(*half), "2026-11-28T17:39:58.500Z");
  const auto quarter = ParseRfc3339("2026-11-28T17:39:58.25Z");
  ASSERT_TRUE(quarter.has_value()) << quarter.error().ToString();
  EXPECT_EQ(FormatRfc3339(*quarter), "2026-11-28T17:39:58.250Z");
}

TEST(TimeTest, ToMinutesConvertsMilliseconds) {
  EXPECT_DOUBLE_EQ(ToMinutes(minutes(10)), 10.0);
  EXPECT_DOUBLE_EQ(ToMinutes(seconds(90)), 1.5);
  EXPECT_DOUBLE_EQ(ToMinutes(milliseconds(0)), 0.0);
}

}  // namespace
}  // namespace mlcanary::core
