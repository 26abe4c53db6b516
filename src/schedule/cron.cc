#include "schedule/cron.h"

#include <array>
#include <cctype>
#include <vector>

#include <date/tz.h>
#include <fmt/format.h>

#include "core/duration.h"
#include "spindle/error.h"

namespace spindle::schedule {
namespace {

using namespace std::chrono;

struct Field {
  const char* name;
  int min, max;
  const char* const* names;  // names[i] is value min + i (nullptr: numbers only)
  int name_count;
};

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr const char* kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

constexpr Field kSecond{"second", 0, 59, nullptr, 0};
constexpr Field kMinute{"minute", 0, 59, nullptr, 0};
constexpr Field kHour{"hour", 0, 23, nullptr, 0};
constexpr Field kDay{"day of month", 1, 31, nullptr, 0};
constexpr Field kMonth{"month", 1, 12, kMonthNames, 12};
// 7 is Sunday too, as in Vixie cron.
constexpr Field kWeekday{"day of week", 0, 7, kDayNames, 7};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string_view> Split(std::string_view s, char by) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t at = s.find(by, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? at : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

class FieldParser {
 public:
  FieldParser(const Field& f, int number, std::string_view text)
      : f_(f), number_(number), text_(text) {}

  // The values the field selects, as bits min..max; `star` says whether it starts with '*'.
  std::bitset<64> Parse(bool& star) {
    star = !text_.empty() && text_[0] == '*';
    std::bitset<64> bits;
    for (std::string_view item : Split(text_, ',')) {
      if (item.empty()) Fail(fmt::format("'{}' has an empty list item", text_));
      auto slash = item.find('/');
      std::string_view range = item.substr(0, slash);
      int step = 1;
      if (slash != std::string_view::npos) {
        std::string_view s = item.substr(slash + 1);
        auto v = core::ParseInteger(s, 1, f_.max - f_.min + 1);
        if (!v) {
          Fail(fmt::format("'{}': the step must be a whole number between 1 and {}", item,
                           f_.max - f_.min + 1));
        }
        step = static_cast<int>(*v);
      }
      int lo, hi;
      if (range == "*") {
        lo = f_.min;
        hi = f_.max;
      } else if (auto dash = range.find('-'); dash != std::string_view::npos) {
        lo = Value(range.substr(0, dash));
        hi = Value(range.substr(dash + 1));
        if (lo > hi) Fail(fmt::format("'{}': the range's start is after its end", item));
      } else {
        lo = Value(range);
        // "a/n" means a, a+n, ... up to the field's end.
        hi = slash == std::string_view::npos ? lo : f_.max;
      }
      for (int v = lo; v <= hi; v += step) bits.set(v);
    }
    return bits;
  }

 private:
  int Value(std::string_view s) {
    if (auto v = core::ParseInteger(s, INT32_MIN, INT32_MAX)) {
      if (*v < f_.min || *v > f_.max) {
        Fail(fmt::format("'{}' is out of range {}-{}", s, f_.min, f_.max));
      }
      return static_cast<int>(*v);
    }
    std::string lower = Lower(s);
    for (int i = 0; i < f_.name_count; ++i) {
      if (lower == f_.names[i]) return f_.min + i;
    }
    if (f_.names) {
      Fail(fmt::format("'{}' is neither a number nor a name ({}-{})", s, f_.names[0],
                       f_.names[f_.name_count - 1]));
    }
    Fail(fmt::format("'{}' is not a number", s));
  }

  [[noreturn]] void Fail(const std::string& why) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("field {} ({}) {}", number_, f_.name, why));
  }

  const Field& f_;
  int number_;
  std::string_view text_;
};

template <size_t N>
std::bitset<N> Narrow(const std::bitset<64>& bits) {
  std::bitset<N> out;
  for (size_t i = 0; i < N; ++i) out[i] = bits[i];
  return out;
}

std::string_view Macro(std::string_view name) {
  if (name == "@yearly" || name == "@annually") return "0 0 1 1 *";
  if (name == "@monthly") return "0 0 1 * *";
  if (name == "@weekly") return "0 0 * * 0";
  if (name == "@daily" || name == "@midnight") return "0 0 * * *";
  if (name == "@hourly") return "0 * * * *";
  return "";
}

}  // namespace

Cron Cron::Parse(std::string_view expression) {
  std::vector<std::string_view> fields;
  for (size_t i = 0; i < expression.size();) {
    if (std::isspace(static_cast<unsigned char>(expression[i]))) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < expression.size() && !std::isspace(static_cast<unsigned char>(expression[end]))) {
      ++end;
    }
    fields.push_back(expression.substr(i, end - i));
    i = end;
  }
  Cron c;
  if (!fields.empty() && fields[0].starts_with("@")) {
    std::string name = Lower(fields[0]);
    if (name == "@every") {
      if (fields.size() != 2) {
        throw Error(ErrorCode::kInvalidArgument, "@every takes one duration, e.g. '@every 90s'");
      }
      c.every_ = core::ParseDuration(fields[1]);
      if (*c.every_ < Millis(1000)) {
        throw Error(ErrorCode::kInvalidArgument,
                    fmt::format("@every {}: the period must be 1s or longer", fields[1]));
      }
      return c;
    }
    std::string_view expanded = Macro(name);
    if (expanded.empty() || fields.size() != 1) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("unknown macro '{}' (known: @yearly, @annually, @monthly, @weekly, "
                              "@daily, @midnight, @hourly, @every DURATION)",
                              expression));
    }
    return Parse(expanded);
  }
  if (fields.size() != 5 && fields.size() != 6) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("'{}' has {} fields; expected 5 (minute hour day-of-month month "
                            "day-of-week) or 6 (second first), or a macro such as @daily",
                            expression, fields.size()));
  }
  size_t i = 0;
  bool star = false;
  auto next = [&](const Field& f) {
    ++i;
    return FieldParser(f, static_cast<int>(i), fields[i - 1]).Parse(star);
  };
  c.seconds_ = fields.size() == 6 ? Narrow<60>(next(kSecond)) : std::bitset<60>(1);
  c.minutes_ = Narrow<60>(next(kMinute));
  c.hours_ = Narrow<24>(next(kHour));
  c.days_ = Narrow<32>(next(kDay));
  c.days_star_ = star;
  auto months = next(kMonth);
  c.months_ = Narrow<13>(months);
  auto weekdays = next(kWeekday);
  if (weekdays[7]) weekdays.set(0);
  c.weekdays_ = Narrow<7>(weekdays);
  c.weekdays_star_ = star;
  // Restricted days in months that never have them ("0 0 30 2 *") would never fire.
  if (!c.days_star_ && c.weekdays_star_) {
    constexpr std::array<int, 13> kLongest{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool any = false;
    for (int m = 1; m <= 12; ++m) {
      for (int d = 1; d <= kLongest[m] && c.months_[m]; ++d) any |= c.days_[d];
    }
    size_t day_field = fields.size() - 2;
    if (!any) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("field {} (day of month) '{}' never occurs in field {} (month) "
                              "'{}': it would never fire",
                              day_field, fields[day_field - 1], day_field + 1, fields[day_field]));
    }
  }
  return c;
}

std::optional<SysTime> Cron::Next(SysTime after, const date::time_zone* zone) const {
  if (every_) {
    auto since = duration_cast<Millis>(after.time_since_epoch());
    auto periods = since.count() / every_->count() + 1;
    return SysTime(duration_cast<SysTime::duration>(*every_ * periods));
  }
  auto start = floor<seconds>(after);
  date::local_seconds t = zone->to_local(start) + seconds(1);
  const auto last_year = date::year_month_day(floor<date::days>(t)).year() + date::years(10);
  while (true) {
    auto day = floor<date::days>(t);
    date::year_month_day ymd(day);
    if (ymd.year() > last_year) return std::nullopt;
    if (!months_[unsigned(ymd.month())]) {
      auto first = ymd.year() / ymd.month() / 1;
      t = date::local_days(date::year_month_day(first + date::months(1)));
      continue;
    }
    bool dom = days_[unsigned(ymd.day())];
    bool dow = weekdays_[date::weekday(day).c_encoding()];
    bool day_ok = (days_star_ || weekdays_star_) ? (dom && dow) : (dom || dow);
    if (!day_ok) {
      t = day + date::days(1);
      continue;
    }
    date::hh_mm_ss tod(t - day);
    auto h = tod.hours().count(), m = tod.minutes().count(), s = tod.seconds().count();
    if (!hours_[h]) {
      t = day + hours(h + 1);
      continue;
    }
    if (!minutes_[m]) {
      t = day + hours(h) + minutes(m + 1);
      continue;
    }
    if (!seconds_[s]) {
      t += seconds(1);
      continue;
    }
    // A wall time that matches: the instant it names.
    auto info = zone->get_info(t);
    date::sys_seconds at;
    if (info.result == date::local_info::nonexistent) {
      at = info.first.end;  // skipped by a gap: the first instant after it
    } else {
      at = date::sys_seconds(t.time_since_epoch()) - info.first.offset;  // the first occurrence
    }
    if (at > after) return SysTime(at);
    t += seconds(1);
  }
}

const date::time_zone* LocateZone(const std::string& name) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("unknown time zone '{}' (an IANA name such as UTC, Europe/Berlin, "
                            "America/New_York)",
                            name));
  }
}

}  // namespace spindle::schedule
