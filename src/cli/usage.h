// How the command line reports misuse and errors: the same way for its own errors and the
// option parser's ("error: ..." on stderr, or one JSON object under --json).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace spindle::cli {

// When the words on the command line name a command or an option that does not exist ("spindle
// job list", "spindle jobs lst", "--databse"), what to say: "unknown command 'job' (did you mean
// 'jobs'?); commands: ...". nullopt when every command word and option is known.
std::optional<std::string> UnknownCommand(CLI::App& app, int argc, char** argv);

// The first option given an empty value ("--kind ''"), as a message; nullopt when none was. An
// empty value is always a mistake (an unset shell variable), never "no filter".
std::optional<std::string> EmptyOptionValue(const CLI::App& app);

// Writes an error to stderr: "error: MESSAGE", or {"error": CODE, "reason": MESSAGE} when `json`.
void ReportError(std::string_view code, std::string_view message, bool json);

}  // namespace spindle::cli
