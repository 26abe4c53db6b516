// What the command line prints: for people by default, one JSON document with --json. Times
// for people are UTC to the second ("2026-12-03T23:08:45Z"); in JSON, RFC 3339 with
// milliseconds.
#pragma once

#include <cstdint>
#include <vector>

#include "spindle/spindle.h"

namespace spindle::cli {

// One job. `full`: every line of each error (else its last 5). `kinds`, when looked up: the
// recorded kind defaults, for the effective timeout.
void PrintJob(const Job& j, bool json, bool full = false,
              const std::vector<KindInfo>* kinds = nullptr);
// Its deadline lines (docs/jobs.md, "Deadlines"): the deadline, missed by how much or at risk
// given its kind's estimate, and expires_at. Nothing for a job without either.
void PrintDeadlines(const Job& j, std::optional<Millis> estimate);
// One page of `jobs list`: `total` jobs match from its start. JSON: {"jobs": [...], "total": N,
// "next_after": the id to pass as --after for the next page, null on the last}. People: a
// table, and on stderr where the next page starts when this one is cut off. `at_risk`: the page
// lists at-risk jobs (`--at-risk`): each says so, and the table shows deadlines, not errors.
void PrintJobs(const std::vector<Job>& jobs, int64_t total, bool json, bool at_risk = false);
void PrintMembers(const Membership& ms, bool json);
void PrintQueues(const std::vector<QueueInfo>& queues, bool json);
// The recorded cluster-wide limits with what runs under them and waits for them.
void PrintLimits(const std::vector<LimitInfo>& limits, bool json);
void PrintCluster(const ClusterState& c, const Membership& ms, bool json);

}  // namespace spindle::cli
