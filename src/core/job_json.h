// Jobs as JSON text: what the CLI's --batch lines and the HTTP API's request bodies share.
#pragma once

#include <string>
#include <vector>

#include "spindle/job.h"

namespace spindle::core {

// Every state a job can be in (docs/jobs.md), in the order a job passes through them.
inline constexpr JobState kStates[] = {
    JobState::kScheduled, JobState::kAvailable, JobState::kRunning,   JobState::kRetryable,
    JobState::kCompleted, JobState::kFailed,    JobState::kCancelled, JobState::kStopped,
    JobState::kWaiting,   JobState::kExpired};

// Parses JSON text; a syntax error is Error(kInvalidArgument) "<what> is not valid JSON: <why>".
Json ParseJson(const std::string& text, const std::string& what);

// A job spec from a JSON object with any of "args", "kind", "queue", "priority", "max_attempts",
// "run_at", "deadline", "expires_at" (RFC 3339), "timeout", "unique_period" (durations such as
// "30s"), "serial_key", "unique_key" and "unique_states" ("a,b"). What it leaves out comes from
// `base`. An unknown key or a value of the wrong type is Error(kInvalidArgument). Not validated
// (JobSpec::Validate).
JobSpec SpecFromJson(const Json& object, const JobSpec& base = {});

// "failed,retryable" as states. Throws kInvalidArgument naming the valid ones.
std::vector<JobState> ParseStates(const std::string& text);

}  // namespace spindle::core
