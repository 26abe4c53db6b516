// What a C++ job handler sees and returns.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spindle/job.h"

namespace spindle {

// Set once when a running job must stop (its timeout passed, or the worker is shutting down
// past its grace period). Handlers that run long check it or wait on it. Thread-safe.
class CancelToken {
 public:
  bool cancelled() const {
    std::lock_guard lock(mu_);
    return cancelled_;
  }
  // Waits up to `d`; returns true when cancelled.
  bool WaitFor(std::chrono::steady_clock::duration d) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, d, [&] { return cancelled_; });
  }
  void Cancel() {
    {
      std::lock_guard lock(mu_);
      cancelled_ = true;
    }
    cv_.notify_all();
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool cancelled_ = false;
};

struct JobContext {
  const Job& job;
  const CancelToken& cancel;
  // Set by the worker; use Progress().
  std::function<void(double fraction, std::string_view message)> report_progress;

  // Reports how far the job is: `fraction` from 0 to 1 and a message. Saved at once (one write
  // per call) and shown by `spindle jobs show` until the job completes. A write that fails is
  // logged, not thrown.
  void Progress(double fraction, std::string_view message) const {
    if (report_progress) report_progress(fraction, message);
  }
};

// The outcome a handler reports. A handler may also throw: that counts as Error(what()).
struct JobResult {
  enum class Kind {
    kDone,     // completed
    kError,    // retried with back-off until max_attempts, then failed
    kDiscard,  // failed now, no more attempts
    kSnooze,   // run again after `delay`; the attempt does not count
  };
  Kind kind = Kind::kDone;
  std::string message;
  Millis delay{0};
  Json result;  // kDone: the job's result, kept with it (null: none)

  static JobResult Done(Json result = nullptr) {
    return {Kind::kDone, {}, Millis{0}, std::move(result)};
  }
  static JobResult Error(std::string msg) { return {Kind::kError, std::move(msg), Millis{0}}; }
  static JobResult Discard(std::string msg) { return {Kind::kDiscard, std::move(msg), Millis{0}}; }
  static JobResult Snooze(Millis d) { return {Kind::kSnooze, {}, d}; }
};

using Handler = std::function<JobResult(JobContext&)>;

// One step of a multi-step kind (Worker::RegisterSteps). The step reads the checkpoint that the
// previous step left, and may replace it; Done() moves on to `next` (default: the following
// step), and the engine saves the next step and the checkpoint atomically before running it. A
// job that crashes, is stopped or fails resumes at the last saved step with its checkpoint;
// steps already saved never run again. Snooze(d) is a nap: the checkpoint is saved, the worker
// slot is freed, and the same step runs again after `d`, or at once when the job is woken
// (Client::Wake), even by a wake-up that arrived while the step ran. Any other result ends the
// attempt as for a Handler.
//
// Children: jobs the step puts in `enqueue` are enqueued when it returns Done(), in the same
// transaction as the checkpoint, and the job then waits for them without holding a worker slot.
// When the last of them has finished (completed, failed or cancelled), the next step runs and
// reads their outcomes and results with Children(); it decides what a failed child means. A
// step that does not return Done() enqueues nothing. Cancelling a job cancels its children.
struct StepContext : JobContext {
  const std::string& step;  // this step's name
  Json checkpoint;          // as the previous step left it (null before the first)
  std::optional<std::string> next;  // jump to this step instead of the following one
  std::vector<JobSpec> enqueue;     // children to enqueue when the step is done
  // Set by the worker; use Children().
  std::function<std::vector<Job>()> load_children;

  // Every child this job has enqueued, oldest first, as they are now (one read per call).
  std::vector<Job> Children() const { return load_children ? load_children() : std::vector<Job>{}; }
};

struct Step {
  std::string name;
  std::function<JobResult(StepContext&)> run;
};

}  // namespace spindle
