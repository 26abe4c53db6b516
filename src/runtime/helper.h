// A kind's long-lived helper (docs/jobs.md, "Long-lived helpers"): one process runs many jobs of
// its kind, one at a time, instead of a process per job. Each job is written to the helper's
// stdin as one line of JSON (what a one-shot command reads); the helper answers with protocol
// lines (runtime/command_protocol.h) and ends the job with a "status" line.
//
// A pool keeps one helper per job of the kind running at once on this worker; a helper is
// reused while it is idle. Each helper is a command run by RunCommand on a thread of its own, so
// it lives under a supervisor like every command and dies with this process. A helper that
// exits, is killed, or misses a job's deadline or cancel (then it is killed, as a command would
// be) ends that job's attempt; the next job starts a new helper. After max_jobs jobs a helper is
// retired: its stdin is closed, which tells it to exit, and it is killed if it has not after
// kill_grace.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/command.h"

namespace spindle::runtime {

// What a helper's stdout line is to the job it runs.
enum class LineUse {
  kOutput,   // not an instruction
  kObeyed,   // an instruction
  kEndsJob,  // the job's end ("status")
};

using LineHandler = std::function<LineUse(std::string_view)>;

class HelperPool {
 public:
  // `base` is how every helper runs (argv, controls, kill_grace, fence, output_limit); the pool
  // sets its stdin, cancel and stdout callbacks. 0 max_jobs: a helper is never retired.
  HelperPool(CommandRun base, int max_jobs);
  // Retires the idle helpers. No job may be running.
  ~HelperPool();
  HelperPool(const HelperPool&) = delete;
  HelperPool& operator=(const HelperPool&) = delete;

  struct Outcome {
    bool ended = false;     // the helper ended the job with a status line
    CommandResult process;  // otherwise: how the helper ended, or why it did not start
    // Why the job did not end, for its error: "timed out after deadline; killed by SIGTERM",
    // "the helper ended before the job did: exited with status 1; stderr: ...".
    std::string Describe() const;
  };
  // Runs one job: writes `input` (one line) to an idle helper, or to a new one, and passes each
  // line the helper writes on stdout to `on_line` (on the helper's thread, one at a time), and
  // the length of each line over output_limit to `on_overlong`, until a line ends the job, the
  // deadline passes, `cancel` fires or the helper ends. An idle helper that turns out to be gone
  // before it got the line is replaced; one that wrote a protocol line between jobs (out of
  // step with them) is not given another. Thread-safe.
  Outcome Run(const std::string& input, std::chrono::steady_clock::time_point deadline,
              const CancelToken* cancel, const LineHandler& on_line,
              const std::function<void(size_t)>& on_overlong);

  // Helpers alive now, busy or idle; and how many were ever started. For tests and logs.
  size_t alive() const;
  size_t started() const;
  // Helpers found out of step with their jobs (see Run).
  size_t out_of_step() const;

 private:
  struct Helper;
  std::unique_ptr<Helper> Take();
  void Retire(std::unique_ptr<Helper> helper);

  const CommandRun base_;
  const int max_jobs_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Helper>> idle_;
  size_t alive_ = 0;
  size_t started_ = 0;
  size_t retiring_ = 0;  // helpers Retire is letting go
  std::atomic<size_t> out_of_step_{0};
  std::condition_variable retired_;
};

}  // namespace spindle::runtime
