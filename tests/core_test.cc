// Pure logic: no database. (The logger writes to stderr, which one test captures.)
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "core/backoff.h"
#include "core/duration.h"
#include "core/log.h"
#include "core/text.h"
#include "core/time.h"
#include "core/uuid.h"
#include "runtime/service.h"
#include "spindle/error.h"
#include "spindle/job.h"
#include "spindle/log.h"

namespace spindle {
namespace {

// A loop asked to run at two times runs at both, long before its interval: an earlier run does
// not stand for a later one (a rate limit's wake-ups, docs/regulation.md).
TEST(LoopServiceTest, RunsAtEveryTimeItWasAskedFor) {
  std::atomic<int> runs{0};
  runtime::LoopService loop("test", Millis(600000), [&] {
    ++runs;
    return false;
  });
  loop.Start();
  auto start = std::chrono::steady_clock::now();
  loop.WakeIn(Millis(100));
  loop.WakeIn(Millis(400));
  auto deadline = start + std::chrono::seconds(60);
  while (runs < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(Millis(5));
  }
  auto took = std::chrono::steady_clock::now() - start;
  loop.Stop();
  EXPECT_EQ(runs, 2);
  EXPECT_GE(took, Millis(400));
}

// spindle::SetLogLevel: an embedding program's one handle on the library's logger.
TEST(LogTest, TheLevelIsSetByNameAndAnUnknownNameChangesNothing) {
  SetLogLevel("warn");
  EXPECT_EQ(core::Log().level(), spdlog::level::warn);
  try {
    SetLogLevel("loud");
    FAIL() << "an unknown level was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("invalid log level 'loud'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(core::Log().level(), spdlog::level::warn);
  SetLogLevel("info");
  EXPECT_EQ(core::Log().level(), spdlog::level::info);
}

TEST(BackoffTest, GrowsExponentiallyWithinJitterBounds) {
  BackoffOptions o{.base = Millis(1000), .max = Millis(3600000), .jitter = 0.2};
  for (int attempt = 1; attempt <= 8; ++attempt) {
    double nominal = 1000.0 * (1 << (attempt - 1));
    EXPECT_EQ(core::BackoffDelay(o, attempt, 0.0).count(), std::llround(nominal * 0.8));
    EXPECT_EQ(core::BackoffDelay(o, attempt, 0.5).count(), std::llround(nominal));
    EXPECT_EQ(core::BackoffDelay(o, attempt, 1.0).count(), std::llround(nominal * 1.2));
    for (int i = 0; i < 200; ++i) {
      auto d = core::BackoffDelay(o, attempt).count();
      EXPECT_GE(d, std::llround(nominal * 0.8));
      EXPECT_LE(d, std::llround(nominal * 1.2));
    }
  }
}

TEST(BackoffTest, IsCappedAtMax) {
  BackoffOptions o{.base = Millis(1000), .max = Millis(60000), .jitter = 0.0};
  EXPECT_EQ(core::BackoffDelay(o, 7, 0.3).count(), 60000);
  EXPECT_EQ(core::BackoffDelay(o, 1000, 0.3).count(), 60000);
}

TEST(DurationTest, ParsesUnitsAndCombinations) {
  EXPECT_EQ(core::ParseDuration("250ms").count(), 250);
  EXPECT_EQ(core::ParseDuration("30s").count(), 30000);
  EXPECT_EQ(core::ParseDuration("5m").count(), 300000);
  EXPECT_EQ(core::ParseDuration("2h").count(), 7200000);
  EXPECT_EQ(core::ParseDuration("1d").count(), 86400000);
  EXPECT_EQ(core::ParseDuration("1m30s").count(), 90000);
  EXPECT_EQ(core::FormatDuration(Millis(90000)), "1m30s");
  EXPECT_EQ(core::FormatDuration(Millis(1500)), "1500ms");
}

TEST(DurationTest, ElapsedTimesReadAsPeopleSayThem) {
  EXPECT_EQ(core::FormatElapsed(Millis(-5)), "0ms");
  EXPECT_EQ(core::FormatElapsed(Millis(250)), "250ms");
  EXPECT_EQ(core::FormatElapsed(Millis(26826)), "26.8s");
  EXPECT_EQ(core::FormatElapsed(Millis(59999)), "59.9s");
  EXPECT_EQ(core::FormatElapsed(Millis(185000)), "3m 05s");
  EXPECT_EQ(core::FormatElapsed(Millis(7380000)), "2h 03m");
  EXPECT_EQ(core::FormatElapsed(Millis(273600000)), "3d 04h");
}

TEST(TimeTest, TimesAreShownInUtcWithTheirZone) {
  SysTime t = core::ParseRfc3339("2026-12-04T00:08:45.2539+01:00");
  EXPECT_EQ(core::FormatRfc3339(t), "2026-12-03T23:08:45.253Z");
  EXPECT_EQ(core::FormatHumanTime(t), "2026-12-03T23:08:45Z");
}

TEST(DurationTest, RejectsMalformedText) {
  struct Case {
    const char* text;
    const char* message;  // a part of it
  };
  const char* kExpected = "expected a whole number with a unit, like 250ms";
  for (auto [text, message] : std::initializer_list<Case>{
           {"", kExpected},
           {"10", kExpected},
           {"s", kExpected},
           {"10x", kExpected},
           {"10S", kExpected},
           {"-5s", kExpected},
           {"+5s", kExpected},
           {"1.5s", kExpected},
           {"10 s", kExpected},
           {" 10s", kExpected},
           {"10s ", kExpected},
           {"10s\n", kExpected},
           {"1m30", kExpected},
           {"0x10s", kExpected},
           {"1e3s", kExpected},
           {"30s1m", "give each unit once, largest first"},
           {"1s1s", "give each unit once, largest first"},
           {"1ms1s", "give each unit once, largest first"},
           {"40000d", "longer than 100 years"},
           {"1000000000000d", "longer than 100 years"},
           {"99999999999999999999h", "longer than 100 years"},
           {"36500d1h", "longer than 100 years"},
       }) {
    try {
      core::ParseDuration(text);
      ADD_FAILURE() << "accepted '" << text << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_EQ(std::string(e.what()).rfind(fmt::format("invalid duration '{}': ", text), 0), 0u)
          << e.what();
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(core::ParseDuration("0s").count(), 0);  // callers decide whether 0 can work
  EXPECT_EQ(core::ParseDuration("1h1m1s1ms").count(), 3661001);
  EXPECT_EQ(core::ParseDuration("36500d").count(), 36500LL * 86400000);
}

TEST(IntegerTest, AcceptsOnlyWholeDecimalNumbersInRange) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(core::ParseInteger("1", 1, 10), 1);
  EXPECT_EQ(core::ParseInteger("10", 1, 10), 10);
  EXPECT_EQ(core::ParseInteger("007", 1, 10), 7);  // decimal, not octal
  EXPECT_EQ(core::ParseInteger("-7", -10, 10), -7);
  EXPECT_EQ(core::ParseInteger("9223372036854775807", 0, kMax), kMax);
  for (const char* bad : {"", "1.5", "1.0", "1e3", "0x10", "+1", " 1", "1 ", "1\n", "one", "-",
                          "11", "0", "-1", "4294967297", "99999999999999999999"}) {
    EXPECT_FALSE(core::ParseInteger(bad, 1, 10).has_value()) << bad;
  }
  EXPECT_FALSE(core::ParseInteger("9223372036854775808", 0, kMax).has_value());
  EXPECT_EQ(core::DescribeRange(1, 10000), "a whole number between 1 and 10000");
  EXPECT_EQ(core::DescribeRange(1, kMax), "a whole number of at least 1");
}

TEST(Rfc3339Test, AcceptsAnyOffsetAndFractionsAndRoundTrips) {
  struct Case {
    const char* text;
    const char* utc;  // as the stores write it
  };
  for (auto [text, utc] : std::initializer_list<Case>{
           {"2026-01-31T12:00:00Z", "2026-01-31 12:00:00.000000+00"},
           {"2026-01-31t12:00:00z", "2026-01-31 12:00:00.000000+00"},
           {"2026-01-31 12:00:00Z", "2026-01-31 12:00:00.000000+00"},
           {"2026-01-31T14:00:00+02:00", "2026-01-31 12:00:00.000000+00"},
           {"2026-01-31T06:30:00-05:30", "2026-01-31 12:00:00.000000+00"},
           {"2026-01-01T01:00:00+02:00", "2025-12-31 23:00:00.000000+00"},
           {"2026-01-31T12:00:00.5Z", "2026-01-31 12:00:00.500000+00"},
           {"2026-01-31T12:00:00.123456789Z", "2026-01-31 12:00:00.123456+00"},
           {"2026-01-31T12:00:00.1234567891234Z", "2026-01-31 12:00:00.123456+00"},
           {"2028-02-29T00:00:00Z", "2028-02-29 00:00:00.000000+00"},  // a leap year
           {"2000-02-29T23:59:59Z", "2000-02-29 23:59:59.000000+00"},
           {"1969-12-31T23:59:59Z", "1969-12-31 23:59:59.000000+00"},
           {"2261-12-31T23:59:59Z", "2261-12-31 23:59:59.000000+00"},
       }) {
    SCOPED_TRACE(text);
    SysTime t = core::ParseRfc3339(text);
    EXPECT_EQ(core::FormatTimestamp(t), utc);
    EXPECT_EQ(core::ParseTimestamp(utc), std::chrono::time_point_cast<std::chrono::microseconds>(t));
  }
  // Every day of four years, each way round.
  for (int day = 0; day < 4 * 366; ++day) {
    auto t = SysTime(std::chrono::days(20000 + day));
    std::string text = core::FormatTimestamp(t).substr(0, 19) + "Z";
    EXPECT_EQ(core::ParseRfc3339(text), t) << text;
  }
}

TEST(Rfc3339Test, RefusesImpossibleTimesWithAReason) {
  struct Case {
    const char* text;
    const char* message;  // a part of it
  };
  const char* kExpected = "expected RFC 3339, like 2026-01-31T12:00:00Z";
  for (auto [text, message] : std::initializer_list<Case>{
           {"2027-02-31T00:00:00Z", "2027-02 has 28 days"},
           {"2027-02-29T00:00:00Z", "2027-02 has 28 days"},
           {"2100-02-29T00:00:00Z", "2100-02 has 28 days"},
           {"2026-04-31T00:00:00Z", "2026-04 has 30 days"},
           {"2026-01-32T00:00:00Z", "2026-01 has 31 days"},
           {"2026-01-00T00:00:00Z", "2026-01 has 31 days"},
           {"2026-13-01T00:00:00Z", "there is no month 13"},
           {"2026-00-01T00:00:00Z", "there is no month 0"},
           {"2026-01-31T24:00:00Z", "between 00:00:00 and 23:59:59"},
           {"2026-01-31T12:60:00Z", "between 00:00:00 and 23:59:59"},
           {"2026-12-31T23:59:60Z", "between 00:00:00 and 23:59:59"},
           {"2026-01-31T12:00:00+24:00", "offset must be between"},
           {"2026-01-31T12:00:00+02:60", "offset must be between"},
           {"2026-01-31T12:00:00", "no UTC offset"},
           {"2026-01-31T12:00:00.5", "no UTC offset"},
           {"9999-12-31T23:59:59Z", "outside the years 1678 to 2261"},
           {"1000-01-01T00:00:00Z", "outside the years 1678 to 2261"},
           {"", kExpected},
           {"2026-01-31", kExpected},
           {"2026-01-31T12:00Z", kExpected},
           {"2026-1-31T12:00:00Z", kExpected},
           {"26-01-31T12:00:00Z", kExpected},
           {"2026/01/31T12:00:00Z", kExpected},
           {"2026-01-31X12:00:00Z", kExpected},
           {"2026-01-31T12:00:00.Z", kExpected},
           {"2026-01-31T12:00:00ZZ", kExpected},
           {"2026-01-31T12:00:00Z ", kExpected},
           {" 2026-01-31T12:00:00Z", kExpected},
           {"2026-01-31T12:00:00+0200", kExpected},
           {"2026-01-31T12:00:00+02", kExpected},
           {"2026-01-31T12:00:00 UTC", kExpected},
           {"+2026-01-31T12:00:00Z", kExpected},
           {"1769860800", kExpected},
       }) {
    try {
      core::ParseRfc3339(text);
      ADD_FAILURE() << "accepted '" << text << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_EQ(std::string(e.what()).rfind(fmt::format("invalid time '{}': ", text), 0), 0u)
          << e.what();
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
}

TEST(LogValueTest, QuotesAndEscapes) {
  EXPECT_EQ(core::LogValue("plain"), "\"plain\"");
  EXPECT_EQ(core::LogValue(""), "\"\"");
  EXPECT_EQ(core::LogValue("say \"hi\" \\ bye"), R"("say \"hi\" \\ bye")");
  EXPECT_EQ(core::LogValue("a\nb\r\nc\td"), R"("a\nb\r\nc\td")");
  EXPECT_EQ(core::LogValue(std::string("nul\0 esc\x1b bel\x07 del\x7f", 19)),
            R"("nul\x00 esc\x1b bel\x07 del\x7f")");
  EXPECT_EQ(core::LogValue("caf\xc3\xa9 \xe2\x9c\x93"), "\"caf\xc3\xa9 \xe2\x9c\x93\"");
  EXPECT_EQ(core::LogValue("bad \xff\xc3("), R"("bad \xff\xc3(")");  // not UTF-8: bytes shown
}

TEST(LogValueTest, IsBoundedOnACharacterBoundary) {
  std::string big(100000, 'x');
  EXPECT_EQ(core::LogValue(big, 10), "\"xxxxxxxxxx\xe2\x80\xa6(+99990 bytes)\"");
  std::string v = core::LogValue(big);
  EXPECT_EQ(v, "\"" + std::string(2048, 'x') + "\xe2\x80\xa6(+97952 bytes)\"");
  // Never inside the two bytes of "é", nor inside an escape.
  EXPECT_EQ(core::LogValue("aaa\xc3\xa9\xc3\xa9", 6), "\"aaa\xc3\xa9\xe2\x80\xa6(+2 bytes)\"");
  EXPECT_EQ(core::LogValue("aaaa\n", 5), "\"aaaa\xe2\x80\xa6(+1 bytes)\"");
  EXPECT_EQ(core::LogValue("aaa\n", 5), "\"aaa\\n\"");
  EXPECT_EQ(core::LogValue("exact", 5), "\"exact\"");
}

// What the logger writes to stderr, captured by pointing fd 2 at a file.
std::vector<std::string> LoggedLines(const std::function<void()>& log) {
  std::string path = ::testing::TempDir() + "spindle_log_" + std::to_string(getpid());
  fflush(stderr);
  int saved = dup(2);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fd, 2);
  close(fd);
  log();
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::remove(path.c_str());
  return lines;
}

TEST(LogTest, EveryRecordIsOneBoundedLine) {
  auto lines = LoggedLines([] {
    core::Log().info("event=test raw={}", "first\nsecond\r\nthird\x1b[31m");
    core::Log().info("event=test big={}", std::string(100000, 'y'));
    core::Log().warn("event=test error={}", core::LogValue("FATAL: it broke\n  at line 3\n"));
  });
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find(" level=info event=test raw=first\\nsecond\\r\\nthird\\x1b[31m"),
            std::string::npos)
      << lines[0];
  EXPECT_LE(lines[1].size(), 16u * 1024 + 100);
  EXPECT_NE(lines[1].find("yyy\xe2\x80\xa6(+"), std::string::npos);
  EXPECT_EQ(lines[1].substr(lines[1].size() - 6), "bytes)");
  EXPECT_NE(lines[2].find(R"( level=warning event=test error="FATAL: it broke\n  at line 3\n")"),
            std::string::npos)
      << lines[2];
}

TEST(UuidTest, IsVersion7AndStrictlyIncreasing) {
  std::string prev;
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    auto id = core::NewUuidV7();
    ASSERT_TRUE(core::IsUuid(id)) << id;
    EXPECT_EQ(id[14], '7') << id;
    EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') << id;
    EXPECT_GT(id, prev);
    prev = id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(UuidTest, StartsWithTheTimestamp) {
  // Later than any id made so far in this process: ids are monotonic per process.
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                (std::chrono::system_clock::now() + std::chrono::hours(24)).time_since_epoch())
                .count();
  std::string hex = fmt::format("{:012x}", ms);
  EXPECT_EQ(core::NewUuidV7(SysTime(std::chrono::milliseconds(ms))).substr(0, 13),
            hex.substr(0, 8) + "-" + hex.substr(8, 4));
}

TEST(CleanTextTest, MakesBytesStorable) {
  EXPECT_EQ(core::CleanText("plain"), "plain");
  EXPECT_EQ(core::CleanText("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(core::CleanText(std::string("a\0b", 3)), "ab");
  EXPECT_EQ(core::CleanText("bad \xff\xfe end"), "bad \xef\xbf\xbd\xef\xbf\xbd end");
  EXPECT_EQ(core::CleanText("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
  // Cut on a character boundary, never inside the two bytes of "é".
  std::string cut = core::CleanText("aaaaa\xc3\xa9\xc3\xa9\xc3\xa9", 10);
  EXPECT_LE(cut.size(), 10u);
  EXPECT_EQ(cut, "aaaaa\xc3\xa9\xe2\x80\xa6");
}

TEST(JobStateTest, NamesRoundTrip) {
  for (auto s : {JobState::kScheduled, JobState::kAvailable, JobState::kRunning,
                 JobState::kRetryable, JobState::kCompleted, JobState::kFailed,
                 JobState::kCancelled, JobState::kStopped, JobState::kExpired}) {
    EXPECT_EQ(ParseJobState(ToString(s)), s);
  }
  EXPECT_FALSE(ParseJobState("done").has_value());
  EXPECT_TRUE(IsFinal(JobState::kCompleted));
  EXPECT_FALSE(IsFinal(JobState::kStopped));
  EXPECT_FALSE(IsFinal(JobState::kRetryable));
}

TEST(JobSpecTest, ValidateRejectsBadInput) {
  JobSpec ok{.kind = "k"};
  EXPECT_NO_THROW(ok.Validate());
  auto expect_invalid = [](JobSpec s) {
    try {
      s.Validate();
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    }
  };
  expect_invalid(JobSpec{.kind = ""});
  expect_invalid(JobSpec{.kind = "k", .args = Json::array()});
  expect_invalid(JobSpec{.kind = "k", .args = 3});
  expect_invalid(JobSpec{.kind = "k", .queue = ""});
  expect_invalid(JobSpec{.kind = "k", .max_attempts = 0});
  expect_invalid(JobSpec{.kind = "k", .timeout = Millis(0)});
  expect_invalid(JobSpec{.kind = std::string(256, 'k')});
}

}  // namespace
}  // namespace spindle
