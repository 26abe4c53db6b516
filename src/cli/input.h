// What `spindle enqueue` reads: a job's args (inline, @FILE or - for stdin) and, with --batch,
// one job per line of JSON.
#pragma once

#include <istream>
#include <string>
#include <vector>

#include "spindle/client.h"
#include "spindle/job.h"

namespace spindle::cli {

// The --args value: JSON text, "@PATH" (the file's contents) or "-" (stdin). Throws
// Error(kInvalidArgument) naming --args when it cannot be read or is not JSON.
Json ReadArgs(const std::string& value);

// --batch input: one JSON object per line (blank lines are skipped). A line is a job spec when it
// has an "args" key, with any of "kind", "queue", "priority", "max_attempts", "run_at" (RFC 3339)
// "timeout" (a duration such as "30s") and "serial_key"; any other line is the job's args. What a line leaves
// out comes from `base` (the command line's options). Every line is read and validated before
// anything is returned: a bad one throws Error(kInvalidArgument) "line N: ...".
std::vector<JobSpec> ReadBatch(std::istream& in, const JobSpec& base);

// Enqueues `specs` `batch_size` at a time (one transaction each), with a progress line when
// stderr is a terminal, and prints a summary (JSON when `json`). A failure names how many jobs
// were enqueued before it.
void InsertBatch(Client& client, const std::vector<JobSpec>& specs, size_t batch_size, bool json);

}  // namespace spindle::cli
