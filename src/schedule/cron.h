// Cron expressions and their fire times (docs/jobs.md, "Periodic jobs"). Pure logic apart from
// reading the system's time zone database.
#pragma once

#include <bitset>
#include <optional>
#include <string>
#include <string_view>

#include "spindle/job.h"

namespace date {
class time_zone;
}

namespace spindle::schedule {

// A parsed expression: 5 fields (minute hour day-of-month month day-of-week), 6 (seconds
// first), a macro (@hourly, @daily/@midnight, @weekly, @monthly, @yearly/@annually) or
// @every DURATION. Vixie semantics: when both day fields are restricted (neither starts with
// '*'), a day matching either fires.
class Cron {
 public:
  // Throws Error(kInvalidArgument) saying which field is wrong and why, e.g.
  // "field 2 (hour) '25' is out of range 0-23".
  static Cron Parse(std::string_view expression);

  // The first fire time strictly after `after`. Wall times are read in `zone`: one that a
  // daylight-saving gap skips fires at the first instant after the gap, one that a repeated
  // hour shows twice fires at its first occurrence only. @every ignores the zone: its slots are
  // the multiples of its period since the Unix epoch. nullopt: none within ten years.
  std::optional<SysTime> Next(SysTime after, const date::time_zone* zone) const;

 private:
  std::bitset<60> seconds_, minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;    // 1-31
  std::bitset<13> months_;  // 1-12
  std::bitset<7> weekdays_; // 0 = Sunday
  bool days_star_ = false, weekdays_star_ = false;
  std::optional<Millis> every_;
};

// The IANA time zone `name` ("Europe/Berlin", "UTC"). Throws Error(kInvalidArgument)
// "unknown time zone '...'".
const date::time_zone* LocateZone(const std::string& name);

}  // namespace spindle::schedule
