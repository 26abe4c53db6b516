// The lines an external command writes on stdout to steer its job (docs/jobs.md, "External
// commands"): one JSON object per line. A line that is not a valid protocol line is output, not
// an instruction.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spindle/job.h"

namespace spindle::runtime {

struct CommandLine {
  std::optional<Json> checkpoint;   // "checkpoint": any JSON
  std::optional<std::string> next;  // "next": the step to resume at
  std::optional<Json> progress;     // "progress": 0..1, with an optional "message"
  std::optional<Millis> nap;        // "nap": "30s" or milliseconds; applies at a clean exit
  std::vector<JobSpec> enqueue;     // "enqueue": children; applies at a clean exit
  std::optional<Json> result;       // "result": any JSON, the job's result when it completes
  // "status": ends the job in a long-lived helper (runtime/helper.h), as a command's exit status
  // ends it: 0 done, anything else (1..255) an error; "error": that error's message.
  std::optional<int> status;
  std::optional<std::string> error;

  // Lines that end the attempt (children, a nap) apply when the command exits with status 0;
  // the others at once.
  bool AtExit() const { return nap.has_value() || !enqueue.empty(); }
};

// Parses one line; nullopt when it is not a protocol line: not a JSON object, an unknown key, a
// wrong type, no instruction at all, or an invalid child. When the line is a JSON object that is
// not obeyed for one of these reasons, `not_obeyed` (if given) says which, e.g. "unknown key
// 'progres'".
std::optional<CommandLine> ParseCommandLine(std::string_view line,
                                            std::string* not_obeyed = nullptr);

// Tells, once per run of a command, at warn, that it wrote a line that looks meant for Spindle
// but is not obeyed: a JSON object with an unknown key or a wrong value, or a line over the
// protocol's size limit. Once, so that a command printing JSON logs of its own does not flood
// the worker's log; at all, so that a typo (`{"progres": 0.5}`) does not go unnoticed.
class IgnoredLines {
 public:
  IgnoredLines(std::string job_id, int attempt) : job_id_(std::move(job_id)), attempt_(attempt) {}
  void NotObeyed(std::string_view why);
  void TooLong(size_t bytes, size_t limit);

 private:
  void Say(std::string_view why);
  std::string job_id_;
  int attempt_;
  bool said_ = false;
};

// The progress value stored for a fraction and message: {"fraction", "message"}, the fraction
// clamped to 0..1.
Json ProgressJson(double fraction, std::string_view message);

}  // namespace spindle::runtime
