#include "cli/bulk.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/text.h"

namespace spindle::cli {
namespace {

const char* Verb(Client::BulkAction a) {
  switch (a) {
    case Client::BulkAction::kCancel: return "cancel";
    case Client::BulkAction::kRetry: return "retry";
    case Client::BulkAction::kDelete: return "delete";
  }
  return "";
}

const char* Done(Client::BulkAction a) {
  switch (a) {
    case Client::BulkAction::kCancel: return "cancelled";
    case Client::BulkAction::kRetry: return "retried";
    case Client::BulkAction::kDelete: return "deleted";
  }
  return "";
}

std::string Jobs(int64_t n) { return core::Counted(n, "job"); }

// "state failed, queue q": what the filter selects, for the question and the summary.
std::string Describe(const JobFilter& f) {
  std::vector<std::string> parts;
  std::string states;
  for (JobState s : f.states) states += (states.empty() ? "" : ",") + std::string(ToString(s));
  parts.push_back("state " + states);
  if (!f.queue.empty()) parts.push_back("queue " + f.queue);
  if (!f.kind.empty()) parts.push_back("kind " + f.kind);
  return fmt::format("{}", fmt::join(parts, ", "));
}

// Asks on the terminal; true for "y" or "yes".
bool Confirmed(const std::string& question) {
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

}  // namespace

void AddBulkOptions(CLI::App& command, BulkOptions& o) {
  command.add_option("--state", o.states, "Every job in these states (comma-separated)");
  command.add_option("--queue", o.queue, "Every job of this queue");
  command.add_option("--kind", o.kind, "Every job of this kind");
  command.add_flag("--yes", o.yes, "Do not ask for confirmation");
  command.add_flag("--dry-run", o.dry_run, "Only say how many jobs it would change");
}

int RunJobChange(Client& client, Client::BulkAction action, const std::string& id,
                 const BulkOptions& o, bool json,
                 const std::function<void(const Job&)>& print_job) {
  bool filtered = !o.states.empty() || !o.queue.empty() || !o.kind.empty();
  if (!id.empty()) {
    if (filtered || o.dry_run) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("give a job id or --state/--queue/--kind, not both"));
    }
    if (action == Client::BulkAction::kDelete && !json) {  // a job that is gone: one line
      Job job = client.Delete(id);
      std::cout << fmt::format("deleted job {} ({}, {})\n", job.id, job.kind, ToString(job.state));
      return 0;
    }
    print_job(action == Client::BulkAction::kCancel  ? client.Cancel(id)
              : action == Client::BulkAction::kRetry ? client.Retry(id)
                                                     : client.Delete(id));
    return 0;
  }
  if (!filtered) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("jobs {} needs a job id, or --state, --queue or --kind to select "
                            "jobs",
                            Verb(action)));
  }
  JobFilter filter;
  if (!o.states.empty()) filter.states = ParseStates(o.states);
  filter.queue = o.queue;
  filter.kind = o.kind;
  filter = Client::BulkFilter(action, filter);
  int64_t matching = client.Count(filter);
  // n: the jobs changed (or, in a dry run, counted). Fewer changed than counted: the others
  // were skipped (docs/jobs.md), which the summary says.
  auto report = [&](int64_t n, bool dry_run) {
    if (json) {
      std::cout << Json{{"action", Verb(action)}, {"dry_run", dry_run}, {"jobs", n},
                        {"counted", matching}}
                       .dump()
                << "\n";
    } else if (dry_run) {
      std::cout << fmt::format("would {} {} ({})\n", Verb(action), Jobs(n), Describe(filter));
    } else if (n < matching) {
      std::cout << fmt::format("{} {}; {} of the {} counted were skipped (`spindle jobs {} ID` "
                               "says why for one)\n",
                               Done(action), Jobs(n), matching - n, matching, Verb(action));
    } else {
      std::cout << fmt::format("{} {}\n", Done(action), Jobs(n));
    }
  };
  if (o.dry_run) {
    report(matching, true);
    return 0;
  }
  if (matching > 0 && !o.yes) {
    std::string question = fmt::format("{} {} ({})?", Verb(action), Jobs(matching), Describe(filter));
    if (action == Client::BulkAction::kCancel) question += " Their unfinished children too.";
    if (!isatty(STDIN_FILENO)) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("refusing to {} {} without confirmation: stdin is not a terminal; "
                              "pass --yes to go ahead, or --dry-run to count only",
                              Verb(action), Jobs(matching)));
    }
    if (!Confirmed(question)) {
      std::cerr << "nothing changed\n";
      return 1;
    }
  }
  report(client.ChangeAll(action, filter), false);
  return 0;
}

std::optional<SysTime> RelevantTime(const Job& j) {
  switch (j.state) {
    case JobState::kScheduled:
    case JobState::kAvailable:
    case JobState::kRetryable: return j.run_at;  // when it runs (next)
    case JobState::kRunning: return j.started_at;
    default: return j.finished_at;  // finished; stopped and waiting jobs have none
  }
}

std::string ErrorLine(const Job& j, size_t width) {
  if ((j.state != JobState::kFailed && j.state != JobState::kRetryable) || j.errors.empty()) {
    return "";
  }
  std::string_view message = j.errors.back().message;
  message = message.substr(0, message.find('\n'));
  // Cut on a character boundary, marked with "…".
  size_t i = 0, chars = 0;
  while (i < message.size() && chars + 1 < width) {
    size_t n = std::max<size_t>(core::Utf8Length(message, i), 1);
    i += n;
    ++chars;
  }
  if (i >= message.size()) return std::string(message);
  return std::string(message.substr(0, i)) + "…";
}

}  // namespace spindle::cli
