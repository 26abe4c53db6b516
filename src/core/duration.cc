#include "core/duration.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include <fmt/format.h>

#include "spindle/error.h"

namespace spindle::core {

Millis ParseDuration(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("invalid duration '{}': {}", text, why));
  };
  constexpr std::string_view kExpected =
      "expected a whole number with a unit, like 250ms, 30s, 5m, 2h or 1d, or a combination "
      "like 1m30s";
  // At most 100 years: longer is a typo, and it keeps the arithmetic far from overflow.
  constexpr int64_t kMax = 100LL * 365 * 86'400'000;
  constexpr std::pair<std::string_view, int64_t> kUnits[] = {
      {"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1000}, {"ms", 1}};
  if (text.empty()) throw bad(kExpected);
  int64_t total = 0;
  size_t next_unit = 0;  // units come largest first, each once: "30s1m" and "1s1s" are typos
  size_t i = 0;
  while (i < text.size()) {
    if (!isdigit(static_cast<unsigned char>(text[i]))) throw bad(kExpected);
    int64_t n = 0;
    while (i < text.size() && isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + (text[i++] - '0');
      if (n > kMax) throw bad("longer than 100 years");
    }
    size_t u = i;
    while (i < text.size() && isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(u, i - u);
    size_t k = 0;
    while (k < std::size(kUnits) && kUnits[k].first != unit) ++k;
    if (k == std::size(kUnits)) throw bad(kExpected);
    if (k < next_unit) throw bad("give each unit once, largest first, like 1h30m");
    next_unit = k + 1;
    int64_t scale = kUnits[k].second;
    if (n > kMax / scale || total > kMax - n * scale) throw bad("longer than 100 years");
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

std::string FormatElapsed(Millis d) {
  int64_t ms = std::max<int64_t>(d.count(), 0);
  if (ms < 1000) return std::to_string(ms) + "ms";
  if (ms < 60'000) return fmt::format("{:.1f}s", static_cast<double>(ms / 100) / 10);
  int64_t s = ms / 1000;
  if (s < 3600) return fmt::format("{}m {:02}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h {:02}m", s / 3600, s % 3600 / 60);
  return fmt::format("{}d {:02}h", s / 86400, s % 86400 / 3600);
}

std::optional<int64_t> ParseInteger(std::string_view text, int64_t min, int64_t max) {
  // from_chars takes no '+', no spaces, no base prefix; it reads "1.5" and "1e3" as 1, so the
  // whole text must be consumed.
  int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end || v < min || v > max) return std::nullopt;
  return v;
}

std::string DescribeRange(int64_t min, int64_t max) {
  if (max == std::numeric_limits<int64_t>::max()) {
    return fmt::format("a whole number of at least {}", min);
  }
  return fmt::format("a whole number between {} and {}", min, max);
}

}  // namespace spindle::core
