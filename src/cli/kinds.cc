#include "cli/kinds.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "core/duration.h"

namespace spindle::cli {

std::optional<std::string> Unserved(const Membership& ms, const std::string& kind,
                                    const std::string& queue) {
  std::set<std::string> queues;  // where live workers serve the kind instead
  for (const auto& m : ms.members) {
    if (m.Serves(kind, queue)) return std::nullopt;
    if (!m.live()) continue;
    if (std::find(m.info.kinds.begin(), m.info.kinds.end(), kind) != m.info.kinds.end()) {
      queues.insert(m.info.queues.begin(), m.info.queues.end());
    }
  }
  if (queues.empty()) {
    return fmt::format("no live worker serves kind '{}': the job waits in queue '{}' until one "
                       "does",
                       kind, queue);
  }
  return fmt::format("no live worker serves kind '{}' in queue '{}' (live workers serve it in "
                     "{}): the job waits until one does",
                     kind, queue, fmt::join(queues, ", "));
}

std::string QueuesText(const MemberInfo& m) {
  std::string out;
  for (const auto& q : m.queues) {
    if (!out.empty()) out += ",";
    auto it = m.concurrency.find(q);
    out += it == m.concurrency.end() ? q : fmt::format("{}={}", q, it->second);
  }
  return out.empty() ? "-" : out;
}

std::optional<Millis> EffectiveTimeout(const Job& job, const std::vector<KindInfo>& kinds) {
  if (job.timeout) return job.timeout;
  for (const auto& k : kinds) {
    if (k.kind == job.kind) return k.defaults.timeout;
  }
  return std::nullopt;
}

std::string TimeoutText(const Job& job, const std::vector<KindInfo>* kinds) {
  if (job.timeout) return core::FormatDuration(*job.timeout);
  if (!kinds) return "none on the job (the kind's, else the worker's default_timeout, applies)";
  if (auto t = EffectiveTimeout(job, *kinds)) return core::FormatDuration(*t) + " (the kind's)";
  return "none (the worker's default_timeout applies)";
}

}  // namespace spindle::cli
