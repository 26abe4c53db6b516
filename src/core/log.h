// Structured logs: one line per event, "level event key=value ...", to stderr.
#pragma once

#include <spdlog/spdlog.h>

namespace spindle::core {

// Sets the level by name (trace, debug, info, warn, error, off) and the line format.
// Throws Error(kInvalidArgument) for an unknown level.
void ConfigureLogging(std::string_view level);

}  // namespace spindle::core
