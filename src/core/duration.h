// Durations and whole numbers as people write them on the command line and in configuration.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "spindle/job.h"

namespace spindle::core {

// "250ms", "30s", "5m", "2h", "1d", or combinations with each unit once, largest first
// ("1m30s"). At most 100 years. Throws Error(kInvalidArgument) naming the text when it is not
// such a duration (no sign, fraction, space, bare number or other unit).
Millis ParseDuration(std::string_view text);
// The shortest exact form: 1500 ms -> "1500ms", 90000 -> "1m30s".
std::string FormatDuration(Millis d);
// A measured duration for people, rounded to what matters: "250ms", "26.8s", "3m 05s",
// "2h 03m", "3d 04h". Negative durations read as 0ms.
std::string FormatElapsed(Millis d);

// A whole number in decimal ("42", "-7") within [min, max]; nullopt for anything else
// ("1.5", "1e3", "0x10", "+1", " 1", a number out of range or too large for 64 bits).
std::optional<int64_t> ParseInteger(std::string_view text, int64_t min, int64_t max);
// The range in words, for messages: "a whole number between 1 and 10000", or "... of at least 1"
// when max is the largest int64.
std::string DescribeRange(int64_t min, int64_t max);

}  // namespace spindle::core
