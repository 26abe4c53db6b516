// What the command line says about kinds and who serves them: the warning of `spindle enqueue`
// for a job no live worker would run, the consumers of `queues list` and `workers list`, and the
// effective timeout of `jobs show` (docs/jobs.md, "Kind defaults").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "spindle/cluster.h"
#include "spindle/job.h"

namespace spindle::cli {

using spindle::EffectiveTimeout;

// A member's queues for people: "default=10,slow=2" (name=concurrency).
std::string QueuesText(const MemberInfo& m);

// The timeout a job runs with, for people: its own, else its kind's recorded one (from `kinds`),
// else the worker's. Without `kinds` (not looked up) the last two are named together.
std::string TimeoutText(const Job& job, const std::vector<KindInfo>* kinds);

}  // namespace spindle::cli
