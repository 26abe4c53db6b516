// Durations as people write them: "250ms", "30s", "5m", "2h", "1d", or combinations ("1m30s").
#pragma once

#include <string_view>

#include "spindle/job.h"

namespace spindle::core {

// Throws Error(kInvalidArgument) naming the text when it is not a duration.
Millis ParseDuration(std::string_view text);
// The shortest exact form: 1500 ms -> "1500ms", 90000 -> "1m30s".
std::string FormatDuration(Millis d);

}  // namespace spindle::core
