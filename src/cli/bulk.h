// `spindle jobs cancel|retry|delete` by filter, and the parts of `jobs list` they share: state
// lists and the WHEN and ERROR columns (docs/jobs.md, "Bulk changes").
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/job_json.h"
#include "spindle/spindle.h"

namespace spindle::cli {

using core::ParseStates;

// The options of a bulk change, beside the single job's ID.
struct BulkOptions {
  std::string states, queue, kind;
  bool yes = false;
  bool dry_run = false;
};
void AddBulkOptions(CLI::App& command, BulkOptions& options);

// `jobs cancel|retry|delete` with an ID (nonempty: the job changed, or deleted as it was, goes
// to `print_job`) or a filter (a summary). retry without --state retries failed jobs. Without
// --yes it asks on a terminal, and refuses (kInvalidArgument) when stdin is not one.
int RunJobChange(Client& client, Client::BulkAction action, const std::string& id,
                 const BulkOptions& options, bool json,
                 const std::function<void(const Job&)>& print_job);

// For `jobs list`: the time that matters in a job's state (next run, start, finish), and the
// first line of its last error for failed and retryable jobs, cut to `width` characters.
std::optional<SysTime> RelevantTime(const Job& job);
std::string ErrorLine(const Job& job, size_t width);

}  // namespace spindle::cli
