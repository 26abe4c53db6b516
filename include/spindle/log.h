// The library's log: one line per event, "time level=L event=NAME key=value ...", on stderr,
// through a logger of its own, so that neither an application's stdout nor its own logging
// settings mix with it.
#pragma once

#include <string_view>

namespace spindle {

// Sets the level by name: trace, debug, info (the default), warn, error, off.
// Throws Error(kInvalidArgument) for an unknown name, and changes nothing.
void SetLogLevel(std::string_view level);

}  // namespace spindle
