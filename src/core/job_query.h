// The job search language of GET /api/v1/jobs?q=... (docs/api.md, "Search"): space-separated
// terms KEY:VALUE, all of which a job must match.
//   state:failed,retryable  queue:mail  kind:email  parent:ID  serial_key:K  priority:1
//   args.customer_id:42     args.address.city:"New York"
// An args value is JSON when it parses as JSON (42, true, null, "42"), else a string; a value
// with spaces is a quoted JSON string.
#pragma once

#include <string>

#include "spindle/job.h"

namespace spindle::core {

// Adds the terms of `query` to `filter`. Error(kInvalidArgument) naming the term for an unknown
// key, a term without a value, a bad path or quote, or a key `filter` already sets.
void ApplyJobQuery(const std::string& query, JobFilter& filter);
// A priority filter's value: Error(kInvalidArgument) unless an integer in int's range.
int ParsePriority(const std::string& text);

}  // namespace spindle::core
