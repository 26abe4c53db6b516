#include "runtime/run_stats.h"

#include <algorithm>

namespace spindle::runtime {

void RunStats::Record(const std::string& kind, std::optional<Millis> took, bool missed) {
  std::lock_guard lock(mu_);
  Kind& k = kinds_[kind];
  if (took) {
    k.window.push_back(*took);
    if (k.window.size() > kWindow) k.window.pop_front();
    ++k.runs;
  }
  if (missed) ++k.missed;
}

std::map<std::string, KindRunSample> RunStats::Take() {
  std::lock_guard lock(mu_);
  std::map<std::string, KindRunSample> out;
  for (auto& [name, k] : kinds_) {
    if (k.runs == 0 && k.missed == 0) continue;
    out[name] = {k.runs ? Percentile90(k.window) : std::nullopt, k.runs, k.missed};
    k.runs = k.missed = 0;
  }
  return out;
}

std::optional<Millis> Percentile90(std::deque<Millis> runs) {
  if (runs.empty()) return std::nullopt;
  // Nearest rank: the smallest run that at least 90 % of the runs do not exceed.
  size_t rank = (runs.size() * 9 + 9) / 10;  // ceil(0.9 n)
  auto nth = runs.begin() + static_cast<std::ptrdiff_t>(rank - 1);
  std::nth_element(runs.begin(), nth, runs.end());
  return *nth;
}

}  // namespace spindle::runtime
