#include "core/text.h"

#include <fmt/format.h>

namespace spindle::core {

size_t Utf8Length(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  size_t n;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  else if (c >= 0xe0 && c <= 0xef) n = 3;
  else if (c >= 0xf0 && c <= 0xf4) n = 4;
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
  }
  // Overlong forms, surrogates and code points past U+10FFFF.
  if (c == 0xe0 && b(i + 1) < 0xa0) return 0;
  if (c == 0xed && b(i + 1) > 0x9f) return 0;
  if (c == 0xf0 && b(i + 1) < 0x90) return 0;
  if (c == 0xf4 && b(i + 1) > 0x8f) return 0;
  return n;
}

std::string CleanText(std::string_view in, size_t max_bytes) {
  static constexpr std::string_view kReplacement = "\xef\xbf\xbd";
  static constexpr std::string_view kEllipsis = "\xe2\x80\xa6";
  std::string out;
  out.reserve(std::min(in.size(), max_bytes));
  for (size_t i = 0; i < in.size();) {
    size_t n = Utf8Length(in, i);
    std::string_view piece = n == 0 ? kReplacement : in.substr(i, n);
    i += n == 0 ? 1 : n;
    if (piece == std::string_view("\0", 1)) continue;
    if (out.size() + piece.size() + kEllipsis.size() > max_bytes && i < in.size()) {
      out += kEllipsis;
      break;
    }
    out += piece;
  }
  return out;
}

bool IsArgsPath(std::string_view path) {
  return !path.empty() && path.size() <= 200 && path.front() != '.' && path.back() != '.' &&
         path.find("..") == std::string_view::npos;
}

std::string Counted(int64_t n, std::string_view noun) {
  return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s");
}

}  // namespace spindle::core
