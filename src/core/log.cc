#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include "spindle/error.h"

namespace spindle::core {

spdlog::logger& Log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::stderr_logger_mt("spindle");
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
    l->set_level(spdlog::level::info);
    return l;
  }();
  return *logger;
}

void ConfigureLogging(std::string_view level) {
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    throw Error(ErrorCode::kInvalidArgument,
                "invalid log level '" + std::string(level) +
                    "': expected trace, debug, info, warn, error or off");
  }
  Log().set_level(lvl);
}

}  // namespace spindle::core
