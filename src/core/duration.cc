#include "core/duration.h"

#include <cctype>

#include "spindle/error.h"

namespace spindle::core {

Millis ParseDuration(std::string_view text) {
  auto bad = [&] {
    return Error(ErrorCode::kInvalidArgument,
                 "invalid duration '" + std::string(text) +
                     "': expected a number with a unit, like 250ms, 30s, 5m, 2h or 1d");
  };
  if (text.empty()) throw bad();
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!isdigit(static_cast<unsigned char>(text[i]))) throw bad();
    int64_t n = 0;
    while (i < text.size() && isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + (text[i++] - '0');
      if (n > 1'000'000'000'000LL) throw bad();
    }
    size_t u = i;
    while (i < text.size() && isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(u, i - u);
    int64_t scale;
    if (unit == "ms") scale = 1;
    else if (unit == "s") scale = 1000;
    else if (unit == "m") scale = 60'000;
    else if (unit == "h") scale = 3'600'000;
    else if (unit == "d") scale = 86'400'000;
    else throw bad();
    // At most 100 years: longer is a typo, and it keeps the arithmetic far from overflow.
    constexpr int64_t kMax = 100LL * 365 * 86'400'000;
    if (n > kMax / scale || total > kMax - n * scale) throw bad();
    total += n * scale;
  }
  return Millis(total);
}

std::string FormatDuration(Millis d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  if (ms % 1000 != 0) return std::to_string(ms) + "ms";
  std::string out;
  int64_t s = ms / 1000;
  const std::pair<int64_t, const char*> units[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  for (auto [size, name] : units) {
    if (s >= size) {
      out += std::to_string(s / size) + name;
      s %= size;
    }
  }
  return out;
}

}  // namespace spindle::core
