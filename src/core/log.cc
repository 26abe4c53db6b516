#include "core/log.h"

#include <cstdio>

#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "core/text.h"
#include "spindle/error.h"
#include "spindle/log.h"

namespace spindle::core {
namespace {

// The longest message the logger writes; longer ones are cut.
constexpr size_t kRecordLimit = 16 * 1024;

// Appends `text` to `out` as one line: line breaks, tabs, other control bytes and bytes that are
// not UTF-8 escaped, and with `quoted` also `"` and `\`. Appends at most `limit` bytes (cut on a
// character boundary), then "…(+N bytes)" if something was left out.
template <typename Buffer>
void AppendEscaped(std::string_view text, bool quoted, size_t limit, Buffer& out) {
  const size_t start = out.size();
  char hex[8];
  for (size_t i = 0; i < text.size();) {
    size_t n = Utf8Length(text, i);
    auto c = static_cast<unsigned char>(text[i]);
    std::string_view piece = text.substr(i, n);
    if (n == 0 || c < 0x20 || c == 0x7f || (quoted && (c == '"' || c == '\\'))) {
      n = 1;
      switch (c) {
        case '\n': piece = "\\n"; break;
        case '\r': piece = "\\r"; break;
        case '\t': piece = "\\t"; break;
        case '"': piece = "\\\""; break;
        case '\\': piece = "\\\\"; break;
        default:
          snprintf(hex, sizeof hex, "\\x%02x", c);
          piece = hex;
      }
    }
    if (out.size() - start + piece.size() > limit) {
      std::string marker = fmt::format("\xe2\x80\xa6(+{} bytes)", text.size() - i);
      out.append(marker.data(), marker.data() + marker.size());
      return;
    }
    out.append(piece.data(), piece.data() + piece.size());
    i += n;
  }
}

// The message of a record (the pattern's %*), made one line and bounded: the backstop for
// messages that carry raw text without LogValue.
class OneLineMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    AppendEscaped(std::string_view(msg.payload.data(), msg.payload.size()), false, kRecordLimit,
                  dest);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<OneLineMessage>();
  }
};

}  // namespace

spdlog::logger& Log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::stderr_logger_mt("spindle");
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<OneLineMessage>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l %*");
    l->set_formatter(std::move(formatter));
    l->set_level(spdlog::level::info);
    // Reporting a failed write would go to the same broken destination, or spam a good one.
    l->set_error_handler([](const std::string&) {});
    return l;
  }();
  return *logger;
}

}  // namespace spindle::core

namespace spindle {

void SetLogLevel(std::string_view level) {
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    throw Error(ErrorCode::kInvalidArgument,
                "invalid log level '" + std::string(level) +
                    "': expected trace, debug, info, warn, error or off");
  }
  core::Log().set_level(lvl);
}

}  // namespace spindle

namespace spindle::core {

std::string LogValue(std::string_view text, size_t limit) {
  std::string out = "\"";
  AppendEscaped(text, true, limit, out);
  out += '"';
  return out;
}

}  // namespace spindle::core
