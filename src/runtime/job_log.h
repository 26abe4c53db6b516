// What the worker logs about each run of a job (docs/jobs.md, "Logs"): its start and its end,
// with the outcome and how long it ran, at debug; an error that will be retried at info; a job
// that fails for good at warn. A person's stop, cancel or cluster stop is not a failure: it is
// told at info when the worker gives the job up, and the outcome the database then refuses at
// debug.
#pragma once

#include <optional>

#include "spindle/job.h"
#include "store/store.h"

namespace spindle::runtime {

void LogJobStarted(const Job& job);

// `outcome`: nullopt when the run ended in the database itself (it waits for its children).
// `given_up`: the worker was told to give the run up (stopped, cancelled, handed back).
void LogJobEnded(const Job& job, const std::optional<JobOutcome>& outcome, bool given_up,
                 Millis elapsed);

}  // namespace spindle::runtime
