// Timestamps as text, the way both backends exchange them: "YYYY-MM-DD HH:MM:SS.ffffff+00" (UTC).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "spindle/job.h"

namespace spindle::core {

std::string FormatTimestamp(SysTime t);
// Also accepts a 'T' between date and time, and "infinity" / "-infinity".
// Throws Error(kInternal) for anything else.
SysTime ParseTimestamp(std::string_view text);

// A job's error list as stored: [{"attempt": n, "at": "<timestamp>", "error": "..."}].
std::vector<JobError> ParseJobErrors(const Json& errors);

}  // namespace spindle::core
