// Failed jobs grouped by what went wrong (GET /api/v1/failures, docs/api.md, "Failures"), so that
// one bad deploy reads as one problem, and changed a group at a time.
#pragma once

#include <string>
#include <string_view>

#include "http/operations.h"
#include "spindle/client.h"

namespace spindle::http {

// The first line of an error with what differs between occurrences masked: ids (UUIDs, hex of 8
// digits or more) become "<id>", other runs of digits "N". "job 42 timed out after 3.5s" ->
// "job N timed out after N.Ns".
std::string MaskError(std::string_view message);
// A group's key: 16 hex digits of a hash of the kind and the masked first line of the job's
// latest error; the same on every server and across restarts.
std::string Fingerprint(const Job& job);

// The groups among the newest `scan` failed jobs of `filter` (its queue and kind), most jobs
// first: {"groups": [{fingerprint, kind, message, example, example_id, count, first_seen,
// last_seen}], "scanned", "complete"}; complete is false when more failed jobs were left unread.
Json GroupFailures(Client& client, const JobFilter& filter, int64_t scan);

// Starts retrying (or deleting) every failed job of the group `fingerprint`, over all failed jobs
// of its kind; Error(kNotFound) when no failed job has it.
Json ChangeFailureGroup(Client& client, Operations& operations, Client::BulkAction action,
                        const std::string& fingerprint, const std::string& who);

}  // namespace spindle::http
