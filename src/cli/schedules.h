// `spindle schedules list|pause|resume|run` (docs/jobs.md, "Periodic jobs").
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "spindle/spindle.h"

namespace spindle::cli {

struct ScheduleCommands {
  CLI::App* list = nullptr;
  CLI::App* pause = nullptr;
  CLI::App* resume = nullptr;
  CLI::App* run = nullptr;
  std::string name;
};

// Adds the `schedules` command and its subcommands to `app`, parsing into `commands`.
void AddScheduleCommands(CLI::App& app, ScheduleCommands& commands);

// Runs the subcommand that was parsed, if any, on the client `open` returns. Returns whether one
// ran. Errors are thrown (an unknown name: kNotFound).
bool RunScheduleCommands(const ScheduleCommands& commands,
                         const std::function<std::unique_ptr<Client>()>& open, bool json);

}  // namespace spindle::cli
