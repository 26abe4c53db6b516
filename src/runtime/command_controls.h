// The controls of a kind's command (CommandOptions: niceness, resource limits, working directory
// and environment; docs/jobs.md, "Commands under control"), checked when the kind is registered
// and turned into what RunCommand applies to the command alone.
#pragma once

#include <string>
#include <vector>

#include "runtime/command.h"
#include "spindle/worker.h"

namespace spindle::runtime {

// Throws Error(kInvalidArgument) naming the kind and the option: a niceness outside 0..19, a
// zero limit, an env_allow name that is empty, has '=' or a '*' before its end, an env name that
// is empty or has '=', and a cwd that is not a directory now.
void ValidateCommandControls(const std::string& kind, const CommandOptions& options);

// The command's environment: the variables of `from` (a null-terminated "NAME=value" array, as
// environ) that options.env_allow names (unset: kDefaultCommandEnv; "LC_*" matches by prefix),
// then options.env, which wins over them.
std::vector<std::string> CommandEnvironment(const CommandOptions& options, char* const* from);

// An env_allow entry: a variable name, or a prefix followed by '*' ("LC_*").
bool IsEnvPattern(const std::string& entry);

// Sets run's cwd, nice, limits and env from the options (env from this process's environment).
void ApplyCommandControls(const CommandOptions& options, CommandRun* run);

}  // namespace spindle::runtime
