#include "core/time.h"

#include <cctype>
#include <cstdio>
#include <ctime>

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
