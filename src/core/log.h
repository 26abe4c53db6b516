// Structured logs: one line per event, "time level=L event=NAME key=value ...", to stderr.
// The library logs through its own logger, so an embedding program's stdout stays its own.
//
// Every record is one line of at most about 16 KiB: the logger escapes any line break or other
// control byte left in a message and cuts what is longer. Values that come from outside (error
// messages, a command's output) go through LogValue: `error={}` with LogValue(e.what()).
#pragma once

#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace spindle::core {

// The library's logger (created on first use; thread-safe; its level: spindle::SetLogLevel). A
// record it cannot write (stderr closed, or a pipe whose reader went away) is dropped silently:
// losing the log destination must not stop or slow the worker.
spdlog::logger& Log();

// A logfmt value with its surrounding double quotes: `"` and `\` escaped with a backslash,
// newline, carriage return and tab as \n \r \t, other control bytes and bytes that are not UTF-8
// as \xNN. At most `limit` bytes between the quotes, cut on a character boundary and marked
// "…(+N bytes)", N being the bytes of `text` left out.
std::string LogValue(std::string_view text, size_t limit = 2048);

}  // namespace spindle::core
