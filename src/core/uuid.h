// UUIDv7 ids (RFC 9562): 48-bit Unix milliseconds, then random bits. Sorting by id sorts by
// creation time, which keeps the primary-key index append-mostly.
#pragma once

#include <string>

#include "spindle/job.h"

namespace spindle::core {

// Thread-safe. Ids made by one process are strictly increasing (a counter in the random bits
// keeps order within one millisecond).
std::string NewUuidV7(SysTime now = std::chrono::system_clock::now());
// True for the canonical 36-character text form of any UUID.
bool IsUuid(std::string_view text);

}  // namespace spindle::core
