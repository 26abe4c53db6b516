// The cluster's recorded limits as a worker last read them (docs/regulation.md): what its
// fetches pass to the store. Read when the worker starts and every heartbeat interval after, so
// a limit another worker records applies here within one interval.
#pragma once

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/log.h"
#include "regulation/admission.h"
#include "store/store.h"

namespace spindle::runtime {

class LimitsCache {
 public:
  // Reads the recorded limits; on failure keeps the last ones read (and throws).
  void Read(Store& store) {
    std::vector<Limit> limits;
    for (auto& info : store.LimitList(/*usage=*/false)) limits.push_back(std::move(info.limit));
    std::lock_guard lock(mu_);
    if (limits == limits_) return;
    limits_ = std::move(limits);
    by_queue_.clear();
  }

  // The limits that may apply to a fetch of `queue` by a worker of `kinds` (empty: none).
  std::vector<Limit> For(const std::string& queue, const std::vector<std::string>& kinds) {
    std::lock_guard lock(mu_);
    auto it = by_queue_.find(queue);
    if (it == by_queue_.end()) {
      it = by_queue_.emplace(queue, regulation::LimitsFor(limits_, queue, kinds)).first;
    }
    return it->second;
  }

  // A limit recorded by another worker (or an older configuration) applies to `queues` too,
  // declared or not: logs each such one that `declared` lacks, and how to remove it, so that
  // nobody wonders why jobs wait.
  void WarnOfUndeclared(const std::vector<Limit>& declared, const std::vector<std::string>& queues,
                        const std::vector<std::string>& kinds) {
    for (const auto& q : queues) {
      for (const auto& l : For(q, kinds)) {
        bool named = std::any_of(declared.begin(), declared.end(),
                                 [&](const Limit& d) { return d.name == l.name; });
        if (named) continue;
        core::Log().warn("event=limit_not_declared limit={} queue={} capacity={} note={}", l.name,
                         q,
                         l.per ? fmt::format("{}/{}", l.capacity, core::FormatDuration(*l.per))
                               : std::to_string(l.capacity),
                         core::LogValue("recorded by another worker and applied here too; "
                                        "`spindle limits remove " + l.name + "` removes it"));
      }
    }
  }

 private:
  std::mutex mu_;
  std::vector<Limit> limits_;
  std::map<std::string, std::vector<Limit>> by_queue_;  // For's answers, per queue
};

}  // namespace spindle::runtime
