// Retry back-off: exponential with jitter.
#pragma once

#include <random>

#include "spindle/worker.h"

namespace spindle::core {

// The delay before the attempt after `attempt` (1-based: attempt 1 just failed):
// min(max, base * 2^(attempt-1)), then scaled by a uniform factor in [1-jitter, 1+jitter].
// `unit` is a uniform sample in [0, 1): tests pass fixed values, the runtime a random one.
Millis BackoffDelay(const BackoffOptions& options, int attempt, double unit);

// BackoffDelay with a thread-local random sample.
Millis BackoffDelay(const BackoffOptions& options, int attempt);

}  // namespace spindle::core
