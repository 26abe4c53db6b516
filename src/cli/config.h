// The TOML configuration of `spindle serve` (and of `spindle enqueue`, for kind defaults).
// See examples/spindle.toml for every key with its default.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "http/server.h"
#include "spindle/worker.h"

namespace spindle::cli {

struct KindConfig {
  CommandOptions command;  // argv empty: the kind has no command (C++ handlers only)
  // queue, priority, max_attempts, timeout (also the command's): what `spindle serve` records
  // for the kind and `spindle enqueue --config` applies (also in Config::worker.kinds).
  KindDefaults defaults;
};

struct AssignmentConfig {
  std::string role;
  CommandOptions command;
};

struct Config {
  std::optional<std::string> database;
  std::optional<std::string> log_level;
  WorkerOptions worker;  // database_url not set here
  std::map<std::string, KindConfig> kinds;
  std::map<std::string, AssignmentConfig> assignments;
  // [http]: serve the API and /metrics (docs/api.md). Unset: no HTTP server.
  std::optional<http::ServerOptions> http;
};

// Reads and validates a file. Throws Error(kInvalidArgument) naming the file, the key and the
// problem, for syntax errors, unknown keys and bad values.
Config LoadConfig(const std::string& path);

}  // namespace spindle::cli
