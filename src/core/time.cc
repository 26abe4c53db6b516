#include "core/time.h"

#include <cctype>
#include <cstdio>
#include <ctime>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "spindle/error.h"

namespace spindle::core {

std::string FormatTimestamp(SysTime t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  int64_t secs = us / 1000000;
  int64_t frac = us % 1000000;
  if (frac < 0) {
    frac += 1000000;
    secs -= 1;
  }
  time_t tt = static_cast<time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

SysTime ParseTimestamp(std::string_view text) {
  // "YYYY-MM-DD HH:MM:SS[.ffffff]+00" (the session's TimeZone is UTC), or the same with a 'T'
  // as jsonb renders timestamps.
  if (text == "infinity") return SysTime::max();
  if (text == "-infinity") return SysTime::min();
  std::string s(text);
  if (s.size() > 10 && s[10] == 'T') s[10] = ' ';
  std::tm tm{};
  int consumed = 0;
  if (sscanf(s.c_str(), "%d-%d-%d %d:%d:%d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
             &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    throw Error(ErrorCode::kInternal, "unexpected timestamp: " + s);
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  int64_t micros = 0;
  size_t i = static_cast<size_t>(consumed);
  if (i < s.size() && s[i] == '.') {
    int digits = 0;
    for (++i; i < s.size() && isdigit(static_cast<unsigned char>(s[i])); ++i, ++digits) {
      if (digits < 6) micros = micros * 10 + (s[i] - '0');
    }
    for (; digits < 6; ++digits) micros *= 10;
  }
  int64_t secs = timegm(&tm);
  return SysTime(std::chrono::microseconds(secs * 1000000 + micros));
}

std::string FormatRfc3339(SysTime t) {
  auto ms = std::chrono::floor<std::chrono::milliseconds>(t);
  auto s = std::chrono::floor<std::chrono::seconds>(ms);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", s, (ms - s).count());
}

Json Rfc3339OrNull(const std::optional<SysTime>& t) {
  return t ? Json(FormatRfc3339(*t)) : Json(nullptr);
}

std::string FormatHumanTime(SysTime t) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", std::chrono::floor<std::chrono::seconds>(t));
}

SysTime ParseRfc3339(std::string_view text) {
  using namespace std::chrono;
  auto bad = [&](std::string_view why) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("invalid time '{}': {}", text, why));
  };
  constexpr std::string_view kExpected =
      "expected RFC 3339, like 2026-01-31T12:00:00Z or 2026-01-31T14:00:00.5+02:00";
  size_t i = 0;
  // Exactly `width` digits at i.
  auto digits = [&](size_t width) {
    int v = 0;
    for (size_t end = i + width; i < end; ++i) {
      if (i >= text.size() || !isdigit(static_cast<unsigned char>(text[i]))) throw bad(kExpected);
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  auto expect = [&](std::string_view one_of) {
    if (i >= text.size() || one_of.find(text[i]) == std::string_view::npos) throw bad(kExpected);
    return text[i++];
  };
  int y = digits(4);
  expect("-");
  int mo = digits(2);
  expect("-");
  int d = digits(2);
  expect("Tt ");
  int h = digits(2);
  expect(":");
  int mi = digits(2);
  expect(":");
  int s = digits(2);
  nanoseconds frac{0};
  if (i < text.size() && text[i] == '.') {
    ++i;
    size_t first = i;
    int64_t scale = 100'000'000;
    for (; i < text.size() && isdigit(static_cast<unsigned char>(text[i])); ++i, scale /= 10) {
      frac += nanoseconds((text[i] - '0') * scale);  // digits past nanoseconds add 0
    }
    if (i == first) throw bad(kExpected);
  }
  if (i == text.size()) throw bad("no UTC offset: add Z for UTC, or an offset like +02:00");
  minutes offset{0};
  if (char sign = expect("Zz+-"); sign == '+' || sign == '-') {
    int oh = digits(2);
    expect(":");
    int om = digits(2);
    if (oh > 23 || om > 59) throw bad("the offset must be between -23:59 and +23:59");
    offset = minutes((oh * 60 + om) * (sign == '-' ? -1 : 1));
  }
  if (i != text.size()) throw bad(kExpected);

  year_month_day date{year(y), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
  if (!date.ok()) {
    if (mo < 1 || mo > 12) throw bad("there is no month " + std::to_string(mo));
    auto last = year_month_day_last(year(y), month_day_last(month(static_cast<unsigned>(mo))));
    throw bad(fmt::format("{:04}-{:02} has {} days", y, mo, static_cast<unsigned>(last.day())));
  }
  if (h > 23 || mi > 59 || s > 59) {
    throw bad("the time of day must be between 00:00:00 and 23:59:59");
  }
  // In seconds first: a year past 2262 does not fit the clock's nanoseconds.
  seconds since_epoch = sys_days(date).time_since_epoch() + hours(h) + minutes(mi) + seconds(s) -
                        offset;
  const auto limit = duration_cast<seconds>(SysTime::duration::max()) - seconds(1);
  if (since_epoch > limit || since_epoch < -limit) {
    throw bad(fmt::format("outside the years {} to {}",
                          static_cast<int>(year_month_day(floor<days>(SysTime::min())).year()) + 1,
                          static_cast<int>(year_month_day(floor<days>(SysTime::max())).year()) - 1));
  }
  return SysTime(duration_cast<SysTime::duration>(since_epoch) +
                 duration_cast<SysTime::duration>(frac));
}

std::vector<JobError> ParseJobErrors(const Json& errors) {
  std::vector<JobError> out;
  if (!errors.is_array()) return out;
  for (const auto& e : errors) {
    out.push_back({e.value("attempt", 0), ParseTimestamp(e.value("at", "1970-01-01 00:00:00")),
                   e.value("error", "")});
  }
  return out;
}

}  // namespace spindle::core
