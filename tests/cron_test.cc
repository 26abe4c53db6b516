// The cron parser and next-fire-time calculator (src/schedule/cron.h): fields, names, steps,
// lists, macros, @every, Vixie's day rule, time zones with daylight-saving gaps and repeats,
// and the messages for bad expressions and zones.
#include <gtest/gtest.h>

#include "core/time.h"
#include "schedule/cron.h"
#include "spindle/error.h"

namespace spindle::schedule {
namespace {

SysTime T(const char* rfc3339) { return core::ParseRfc3339(rfc3339); }
std::string S(SysTime t) { return core::FormatHumanTime(t); }

// The next `n` fire times after `after`, in UTC, as text.
std::vector<std::string> NextN(const std::string& expr, const char* after, int n,
                               const std::string& zone = "UTC") {
  auto cron = Cron::Parse(expr);
  auto* tz = LocateZone(zone);
  std::vector<std::string> out;
  SysTime t = T(after);
  for (int i = 0; i < n; ++i) {
    auto next = cron.Next(t, tz);
    if (!next) break;
    out.push_back(S(*next));
    t = *next;
  }
  return out;
}

std::string ParseError(const std::string& expr) {
  try {
    Cron::Parse(expr);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    return e.what();
  }
  return "(accepted)";
}

using V = std::vector<std::string>;

TEST(CronTest, FiveFieldsEveryMinuteAndStrictlyAfter) {
  EXPECT_EQ(NextN("* * * * *", "2026-03-01T10:00:00Z", 2),
            (V{"2026-03-01T10:01:00Z", "2026-03-01T10:02:00Z"}));
  EXPECT_EQ(NextN("* * * * *", "2026-03-01T10:00:59.999Z", 1), (V{"2026-03-01T10:01:00Z"}));
}

TEST(CronTest, SixFieldsHaveSecondsFirst) {
  EXPECT_EQ(NextN("*/15 * * * * *", "2026-03-01T10:00:00Z", 3),
            (V{"2026-03-01T10:00:15Z", "2026-03-01T10:00:30Z", "2026-03-01T10:00:45Z"}));
  EXPECT_EQ(NextN("30 0 12 * * *", "2026-03-01T12:00:30Z", 1), (V{"2026-03-02T12:00:30Z"}));
}

TEST(CronTest, RangesStepsAndLists) {
  EXPECT_EQ(NextN("0 9-17/4 * * *", "2026-03-01T00:00:00Z", 4),
            (V{"2026-03-01T09:00:00Z", "2026-03-01T13:00:00Z", "2026-03-01T17:00:00Z",
               "2026-03-02T09:00:00Z"}));
  EXPECT_EQ(NextN("5,10,50 0 * * *", "2026-03-01T00:07:00Z", 2),
            (V{"2026-03-01T00:10:00Z", "2026-03-01T00:50:00Z"}));
  EXPECT_EQ(NextN("50/5 0 * * *", "2026-03-01T00:00:00Z", 3),  // a/n: a to the end by n
            (V{"2026-03-01T00:50:00Z", "2026-03-01T00:55:00Z", "2026-03-02T00:50:00Z"}));
}

TEST(CronTest, MonthAndWeekdayNamesAnyCase) {
  // 2026-03-02 is a Monday.
  EXPECT_EQ(NextN("0 8 * * MON-fri", "2026-02-27T09:00:00Z", 2),  // a Friday, past 8:00
            (V{"2026-03-02T08:00:00Z", "2026-03-03T08:00:00Z"}));
  EXPECT_EQ(NextN("0 0 1 jun,Dec *", "2026-03-01T00:00:00Z", 2),
            (V{"2026-06-01T00:00:00Z", "2026-12-01T00:00:00Z"}));
  EXPECT_EQ(NextN("0 0 * * 7", "2026-03-02T00:00:00Z", 1), (V{"2026-03-08T00:00:00Z"}));  // Sunday
}

TEST(CronTest, EitherDayFieldMatchesWhenBothAreRestricted) {
  // The 13th or any Friday (Vixie); 2026-03-06 is a Friday.
  EXPECT_EQ(NextN("0 0 13 * fri", "2026-03-01T00:00:00Z", 3),
            (V{"2026-03-06T00:00:00Z", "2026-03-13T00:00:00Z", "2026-03-20T00:00:00Z"}));
  // A field starting with '*' is unrestricted: then both must match (the 1st-and-a-Friday
  // rule would be "every odd day that is a Friday" here).
  EXPECT_EQ(NextN("0 0 */2 * fri", "2026-03-01T00:00:00Z", 2),
            (V{"2026-03-13T00:00:00Z", "2026-03-27T00:00:00Z"}));
}

TEST(CronTest, Macros) {
  const char* at = "2026-03-01T10:30:00Z";
  EXPECT_EQ(NextN("@hourly", at, 1), (V{"2026-03-01T11:00:00Z"}));
  EXPECT_EQ(NextN("@daily", at, 1), (V{"2026-03-02T00:00:00Z"}));
  EXPECT_EQ(NextN("@midnight", at, 1), (V{"2026-03-02T00:00:00Z"}));
  EXPECT_EQ(NextN("@weekly", at, 1), (V{"2026-03-08T00:00:00Z"}));
  EXPECT_EQ(NextN("@monthly", at, 1), (V{"2026-04-01T00:00:00Z"}));
  EXPECT_EQ(NextN("@yearly", at, 1), (V{"2027-01-01T00:00:00Z"}));
  EXPECT_EQ(NextN("@annually", at, 1), (V{"2027-01-01T00:00:00Z"}));
  EXPECT_EQ(NextN("@every 90s", "2026-03-01T10:30:00Z", 2),  // multiples since the epoch
            (V{"2026-03-01T10:31:30Z", "2026-03-01T10:33:00Z"}));
}

TEST(CronTest, LeapDayFiresEveryFourYears) {
  EXPECT_EQ(NextN("0 0 29 2 *", "2026-03-01T00:00:00Z", 2),
            (V{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}));
}

TEST(CronTest, ZonesReadWallTime) {
  EXPECT_EQ(NextN("0 9 * * *", "2026-01-10T00:00:00Z", 1, "Europe/Berlin"),
            (V{"2026-01-10T08:00:00Z"}));  // CET, +01:00
  EXPECT_EQ(NextN("0 9 * * *", "2026-07-10T00:00:00Z", 1, "Europe/Berlin"),
            (V{"2026-07-10T07:00:00Z"}));  // CEST, +02:00
}

TEST(CronTest, SpringForwardSkippedWallTimeFiresOnceAfterTheGap) {
  // New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00Z).
  EXPECT_EQ(NextN("30 2 * * *", "2026-03-07T12:00:00Z", 3, "America/New_York"),
            (V{"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"}));
  // Every quarter hour of the skipped hour: once, at the gap's end; then 03:00 is the same
  // instant, which fires once too.
  EXPECT_EQ(NextN("*/15 2,3 8 3 *", "2026-03-08T06:00:00Z", 3, "America/New_York"),
            (V{"2026-03-08T07:00:00Z", "2026-03-08T07:15:00Z", "2026-03-08T07:30:00Z"}));
  // Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z).
  EXPECT_EQ(NextN("30 2 * * *", "2026-03-28T12:00:00Z", 2, "Europe/Berlin"),
            (V{"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}));
}

TEST(CronTest, FallBackRepeatedWallTimeFiresOnceAtTheFirst) {
  // New York, 2026-11-01: 01:00-02:00 happens twice (EDT 05:00Z, then EST 06:00Z).
  EXPECT_EQ(NextN("30 1 * * *", "2026-10-31T12:00:00Z", 2, "America/New_York"),
            (V{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}));
  // Hourly: the repeated hour's wall times fire once.
  EXPECT_EQ(NextN("0 * * * *", "2026-11-01T04:30:00Z", 3, "America/New_York"),
            (V{"2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z"}));
  // Asked from inside the second occurrence: the first one is past, so the next day's.
  EXPECT_EQ(NextN("45 1 * * *", "2026-11-01T06:30:00Z", 1, "America/New_York"),
            (V{"2026-11-02T06:45:00Z"}));
  // Berlin, 2026-10-25: 02:00-03:00 twice (CEST 00:00Z, then CET 01:00Z).
  EXPECT_EQ(NextN("30 2 * * *", "2026-10-24T12:00:00Z", 2, "Europe/Berlin"),
            (V{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}));
}

TEST(CronTest, BadExpressionsNameTheField) {
  EXPECT_EQ(ParseError("0 25 * * *"), "field 2 (hour) '25' is out of range 0-23");
  EXPECT_EQ(ParseError("60 * * * * *"), "field 1 (second) '60' is out of range 0-59");
  EXPECT_EQ(ParseError("0 0 0 * *"), "field 3 (day of month) '0' is out of range 1-31");
  EXPECT_EQ(ParseError("0 0 * 13 *"), "field 4 (month) '13' is out of range 1-12");
  EXPECT_EQ(ParseError("0 0 * * 8"), "field 5 (day of week) '8' is out of range 0-7");
  EXPECT_EQ(ParseError("0 0 * * fry"),
            "field 5 (day of week) 'fry' is neither a number nor a name (sun-sat)");
  EXPECT_EQ(ParseError("x * * * *"), "field 1 (minute) 'x' is not a number");
  EXPECT_EQ(ParseError("*/0 * * * *"),
            "field 1 (minute) '*/0': the step must be a whole number between 1 and 60");
  EXPECT_EQ(ParseError("0 5-3 * * *"), "field 2 (hour) '5-3': the range's start is after its end");
  EXPECT_EQ(ParseError("0 1,,2 * * *"), "field 2 (hour) '1,,2' has an empty list item");
  EXPECT_EQ(ParseError("0 0 30 2 *"),
            "field 3 (day of month) '30' never occurs in field 4 (month) '2': it would never fire");
  EXPECT_EQ(ParseError("* * *"),
            "'* * *' has 3 fields; expected 5 (minute hour day-of-month month day-of-week) or 6 "
            "(second first), or a macro such as @daily");
  EXPECT_NE(ParseError("@fortnightly").find("unknown macro '@fortnightly'"), std::string::npos);
  EXPECT_EQ(ParseError("@every 500ms"), "@every 500ms: the period must be 1s or longer");
  EXPECT_EQ(ParseError("@every"), "@every takes one duration, e.g. '@every 90s'");
}

TEST(CronTest, UnknownZoneIsRefused) {
  try {
    LocateZone("Mars/Olympus");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("unknown time zone 'Mars/Olympus'"), std::string::npos);
  }
}

}  // namespace
}  // namespace spindle::schedule
