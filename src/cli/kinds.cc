#include "cli/kinds.h"

#include <fmt/format.h>

#include "core/duration.h"

namespace spindle::cli {

std::string QueuesText(const MemberInfo& m) {
  std::string out;
  for (const auto& q : m.queues) {
    if (!out.empty()) out += ",";
    auto it = m.concurrency.find(q);
    out += it == m.concurrency.end() ? q : fmt::format("{}={}", q, it->second);
  }
  return out.empty() ? "-" : out;
}

std::string TimeoutText(const Job& job, const std::vector<KindInfo>* kinds) {
  if (job.timeout) return core::FormatDuration(*job.timeout);
  if (!kinds) return "none on the job (the kind's, else the worker's default_timeout, applies)";
  if (auto t = EffectiveTimeout(job, *kinds)) return core::FormatDuration(*t) + " (the kind's)";
  return "none (the worker's default_timeout applies)";
}

}  // namespace spindle::cli
