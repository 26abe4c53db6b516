// Pure logic: no database.
#include <gtest/gtest.h>

#include <set>

#include <fmt/format.h>

#include "core/backoff.h"
#include "core/duration.h"
#include "core/text.h"
#include "core/uuid.h"
#include "spindle/error.h"
#include "spindle/job.h"

namespace spindle {
namespace {

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

TEST(DurationTest, RejectsMalformedText) {
  for (const char* bad : {"", "10", "s", "10x", "-5s", "1.5s", "10 s", "1000000000000d", "40000d"}) {
    EXPECT_THROW(core::ParseDuration(bad), Error) << bad;
  }
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
