// Timestamps as text, the way both backends exchange them: "YYYY-MM-DD HH:MM:SS.ffffff+00" (UTC).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spindle/job.h"

namespace spindle::core {

std::string FormatTimestamp(SysTime t);
// Also accepts a 'T' between date and time, and "infinity" / "-infinity".
// Throws Error(kInternal) for anything else.
SysTime ParseTimestamp(std::string_view text);

// A time as people write it, RFC 3339: "2026-01-31T12:00:00Z", "2026-01-31T14:00:00.250+02:00",
// "2026-01-31T06:30:00-05:30". 'T' may also be 't' or a space; the seconds are required, any
// number of fraction digits is accepted (nanoseconds kept); the offset is required ('Z', 'z' or
// +HH:MM / -HH:MM). The date must exist (2027-02-31 does not) and the time must be 00:00:00 to
// 23:59:59 (no leap second). Throws Error(kInvalidArgument) "invalid time '...': <why>".
SysTime ParseRfc3339(std::string_view text);
// Times as Spindle shows them, in UTC. For machines (JSON, messages): RFC 3339 with milliseconds,
// "2026-12-03T23:08:45.253Z". For people (tables): to the second, "2026-12-03T23:08:45Z".
std::string FormatRfc3339(SysTime t);
std::string FormatHumanTime(SysTime t);
// FormatRfc3339 in JSON; null for none.
Json Rfc3339OrNull(const std::optional<SysTime>& t);

// A job's error list as stored: [{"attempt": n, "at": "<timestamp>", "error": "..."}].
std::vector<JobError> ParseJobErrors(const Json& errors);

}  // namespace spindle::core
