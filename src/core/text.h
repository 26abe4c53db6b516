// Text that goes into the database and into logs.
#pragma once

#include <string>
#include <string_view>

namespace spindle::core {

// Makes arbitrary bytes (a command's stderr, an exception's what()) safe to store as text:
// valid UTF-8 (invalid sequences become U+FFFD), no NUL bytes, at most `max_bytes` bytes, cut
// on a character boundary with "…" appended when cut.
std::string CleanText(std::string_view in, size_t max_bytes = 16 * 1024);

}  // namespace spindle::core
