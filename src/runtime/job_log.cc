#include "runtime/job_log.h"

#include "core/duration.h"
#include "core/log.h"

namespace spindle::runtime {

void LogJobStarted(const Job& job) {
  core::Log().debug("event=job_started job={} kind={} attempt={} attempts_used={} of={}", job.id,
                    job.kind, job.attempt, job.attempts_used, job.max_attempts);
}

void LogJobEnded(const Job& job, const std::optional<JobOutcome>& outcome, bool given_up,
                 Millis elapsed) {
  // Out of attempts: the store fails an error at attempts_used >= max_attempts.
  bool last = job.attempts_used >= job.max_attempts;
  std::string_view result = "waiting";
  if (outcome) {
    switch (outcome->kind) {
      case JobOutcome::Kind::kCompleted: result = "completed"; break;
      case JobOutcome::Kind::kError: result = last ? "failed" : "retryable"; break;
      case JobOutcome::Kind::kDiscard: result = "failed"; break;
      case JobOutcome::Kind::kRelease:
        result = given_up ? "given_up" : outcome->delay > Millis(0) ? "nap" : "released";
        break;
    }
  }
  auto duration = core::FormatElapsed(elapsed);
  core::Log().debug("event=job_finished job={} kind={} attempt={} outcome={} duration={}",
                    job.id, job.kind, job.attempt, result, duration);
  if (!outcome) return;
  if (result == "failed") {  // for good: someone should see it
    core::Log().warn("event=job_failed job={} kind={} attempt={} attempts_used={} of={} "
                     "discarded={} duration={} error={}",
                     job.id, job.kind, job.attempt, job.attempts_used, job.max_attempts,
                     outcome->kind == JobOutcome::Kind::kDiscard, duration,
                     core::LogValue(outcome->message));
  } else if (result == "retryable") {
    core::Log().info("event=job_error job={} kind={} attempt={} attempts_used={} of={} error={}",
                     job.id, job.kind, job.attempt, job.attempts_used, job.max_attempts,
                     core::LogValue(outcome->message));
  }
}

}  // namespace spindle::runtime
