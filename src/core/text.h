// Text that goes into the database and into logs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace spindle::core {

// Makes arbitrary bytes (a command's stderr, an exception's what()) safe to store as text:
// valid UTF-8 (invalid sequences become U+FFFD), no NUL bytes, at most `max_bytes` bytes, cut
// on a character boundary with "…" appended when cut.
std::string CleanText(std::string_view in, size_t max_bytes = 16 * 1024);

// The length of the valid UTF-8 sequence starting at text[i] (1 to 4), or 0 if none starts
// there (a stray continuation byte, an overlong form, a surrogate, a cut sequence).
size_t Utf8Length(std::string_view text, size_t i);

// A path into a job's args, as a limit's key and a queue's fairness key name one: dot-separated
// names ("customer_id", "account.id"), none empty.
bool IsArgsPath(std::string_view path);

// "1 job", "2 jobs": a count and its noun, plural with an "s" unless the count is 1.
std::string Counted(int64_t n, std::string_view noun);

}  // namespace spindle::core
