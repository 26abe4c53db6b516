// Structured logs: one line per event, "time level=L event=NAME key=value ...", to stderr.
// The library logs through its own logger, so an embedding program's stdout stays its own.
#pragma once

#include <spdlog/spdlog.h>

namespace spindle::core {

// The library's logger (created on first use; thread-safe).
spdlog::logger& Log();

// Sets the level by name (trace, debug, info, warn, error, off).
// Throws Error(kInvalidArgument) for an unknown level.
void ConfigureLogging(std::string_view level);

}  // namespace spindle::core
