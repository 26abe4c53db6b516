#include "runtime/command_controls.h"

#include <sys/stat.h>

#include <cerrno>
#include <map>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "spindle/error.h"

extern char** environ;

namespace spindle::runtime {
namespace {

[[noreturn]] void Invalid(const std::string& kind, const std::string& msg) {
  throw Error(ErrorCode::kInvalidArgument, fmt::format("command of kind '{}': {}", kind, msg));
}

bool Allowed(std::string_view name, const std::vector<std::string>& allow) {
  for (const std::string& pattern : allow) {
    if (!pattern.empty() && pattern.back() == '*') {
      if (name.substr(0, pattern.size() - 1) == std::string_view(pattern).substr(0, pattern.size() - 1)) {
        return true;
      }
    } else if (name == pattern) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool IsEnvPattern(const std::string& entry) {
  const size_t star = entry.find('*');
  return !entry.empty() && entry != "*" && entry.find('=') == std::string::npos &&
         (star == std::string::npos || star == entry.size() - 1);
}

void ValidateCommandControls(const std::string& kind, const CommandOptions& options) {
  if (options.nice && (*options.nice < 0 || *options.nice > 19)) {
    Invalid(kind, fmt::format("nice must be between 0 and 19, got {}", *options.nice));
  }
  const CommandLimits& limits = options.rlimits;
  if (limits.cpu && limits.cpu->count() < 1) Invalid(kind, "the cpu limit must be at least 1 s");
  if (limits.memory && *limits.memory == 0) Invalid(kind, "the memory limit must not be 0");
  if (limits.files && *limits.files == 0) Invalid(kind, "the files limit must not be 0");
  for (const std::string& name : options.env_allow.value_or(std::vector<std::string>{})) {
    if (!IsEnvPattern(name)) {
      Invalid(kind, fmt::format("env_allow entry '{}' must be a variable name, or a prefix "
                                "followed by '*' (\"LC_*\")",
                                name));
    }
  }
  for (const auto& [name, value] : options.env) {
    if (name.empty() || name.find('=') != std::string::npos) {
      Invalid(kind, fmt::format("env name '{}' must be non-empty and without '='", name));
    }
  }
  if (options.max_jobs_per_process < 0) {
    Invalid(kind, fmt::format("max_jobs_per_process must be at least 1, got {}",
                              options.max_jobs_per_process));
  }
  if (options.max_jobs_per_process > 0 && !options.helper) {
    Invalid(kind, "max_jobs_per_process recycles a long-lived helper: set helper too");
  }
  if (!options.cwd.empty()) {
    struct stat st {};
    if (stat(options.cwd.c_str(), &st) != 0) {
      Invalid(kind, fmt::format("cwd '{}': {}", options.cwd,
                                std::generic_category().message(errno)));
    }
    if (!S_ISDIR(st.st_mode)) Invalid(kind, fmt::format("cwd '{}' is not a directory", options.cwd));
  }
}

std::vector<std::string> CommandEnvironment(const CommandOptions& options, char* const* from) {
  const std::vector<std::string>& allow = options.env_allow ? *options.env_allow : kDefaultCommandEnv;
  std::map<std::string, std::string, std::less<>> vars;  // sorted, each name once
  for (char* const* entry = from; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    const size_t eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    if (Allowed(text.substr(0, eq), allow)) {
      vars.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
    }
  }
  for (const auto& [name, value] : options.env) vars[name] = value;
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (const auto& [name, value] : vars) out.push_back(name + "=" + value);
  return out;
}

void ApplyCommandControls(const CommandOptions& options, CommandRun* run) {
  run->cwd = options.cwd;
  run->nice = options.nice;
  run->limits = options.rlimits;
  run->env = CommandEnvironment(options, environ);
}

}  // namespace spindle::runtime
