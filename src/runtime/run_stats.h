// How long each kind's jobs run, as this worker measures them, and how many finished after their
// deadline (docs/jobs.md, "Deadlines"). Kept in memory: recording a run takes a lock and no
// database write; a loop flushes what accumulated (Store::KindStatsFlush) every stats_interval
// and when the worker stops.
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "store/store.h"

namespace spindle::runtime {

class RunStats {
 public:
  // The runs an estimate is taken over: this worker's latest of each kind.
  static constexpr size_t kWindow = 100;

  // A job of `kind` finished: `took` is its run time when it completed (nullopt: it failed, which
  // says nothing of how long a run takes); `missed`: it finished after its deadline.
  void Record(const std::string& kind, std::optional<Millis> took, bool missed);
  // What accumulated since the last Take, each kind's estimate being the 90th percentile of its
  // window. Kinds without new runs or misses are left out.
  std::map<std::string, KindRunSample> Take();

 private:
  struct Kind {
    std::deque<Millis> window;
    int64_t runs = 0;    // since the last Take
    int64_t missed = 0;  // since the last Take
  };
  std::mutex mu_;
  std::map<std::string, Kind> kinds_;
};

// The 90th percentile of `runs` (nearest rank); nullopt when empty.
std::optional<Millis> Percentile90(std::deque<Millis> runs);

}  // namespace spindle::runtime
