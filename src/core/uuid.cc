#include "core/uuid.h"

#include <mutex>
#include <random>

#include <fmt/format.h>

namespace spindle::core {

std::string NewUuidV7(SysTime now) {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  static uint64_t last_ms = 0;
  static uint64_t counter = 0;  // 12 bits (rand_a), monotonic within a millisecond

  uint64_t ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
  uint64_t rand_a, rand_b;
  {
    std::lock_guard lock(mu);
    if (ms <= last_ms) {
      ms = last_ms;  // clock went back or same millisecond: stay monotonic
      if (++counter > 0xfff) {
        ++ms;  // counter overflow borrows the next millisecond
        counter = rng() & 0x7ff;
      }
    } else {
      counter = rng() & 0x7ff;  // leave headroom for increments
    }
    last_ms = ms;
    rand_a = counter;
    rand_b = rng();
  }
  uint64_t hi = (ms << 16) | (0x7ULL << 12) | (rand_a & 0xfff);
  uint64_t lo = (rand_b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xffff,
                     hi & 0xffff, lo >> 48, lo & 0xffffffffffffULL);
}

bool IsUuid(std::string_view t) {
  if (t.size() != 36) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (t[i] != '-') return false;
    } else if (!isxdigit(static_cast<unsigned char>(t[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace spindle::core
