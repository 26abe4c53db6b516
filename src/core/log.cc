#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include "spindle/error.h"

namespace spindle::core {

void ConfigureLogging(std::string_view level) {
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    throw Error(ErrorCode::kInvalidArgument,
                "invalid log level '" + std::string(level) +
                    "': expected trace, debug, info, warn, error or off");
  }
  auto logger = spdlog::get("spindle");
  if (!logger) logger = spdlog::stderr_logger_mt("spindle");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  logger->set_level(lvl);
  spdlog::set_default_logger(logger);
}

}  // namespace spindle::core
