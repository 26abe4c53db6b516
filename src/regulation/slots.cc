#include "regulation/slots.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "spindle/error.h"

namespace spindle::regulation {
namespace {

// Splits `slots` among claims (weight, cap): first one each, then the rest in proportion to
// weight, none beyond its cap: those whose share reaches their cap get it and the rest is split
// again among the others (water-filling); whole slots by largest remainder. The shares add up to
// `slots` when it is at least the number of claims (and the caps allow).
std::vector<int> Split(int slots, const std::vector<std::pair<double, int>>& claims) {
  size_t n = claims.size();
  std::vector<int> got(n, 1);
  std::vector<bool> fixed(n, false);
  int left = slots - static_cast<int>(n);
  for (size_t i = 0; i < n; ++i) fixed[i] = claims[i].second <= 1;
  while (left > 0) {
    double weights = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!fixed[i]) weights += claims[i].first;
    }
    if (weights <= 0) break;
    bool capped = false;
    for (size_t i = 0; i < n; ++i) {
      int room = claims[i].second - 1;
      if (!fixed[i] && left * claims[i].first / weights >= room) {
        got[i] += room;
        fixed[i] = true;
        left -= room;
        capped = true;
      }
    }
    if (capped) continue;
    std::vector<std::pair<double, size_t>> remainders;
    int given = 0;
    for (size_t i = 0; i < n; ++i) {
      if (fixed[i]) continue;
      double ideal = left * claims[i].first / weights;
      int whole = static_cast<int>(std::floor(ideal));
      got[i] += whole;
      given += whole;
      remainders.push_back({ideal - whole, i});
    }
    std::stable_sort(remainders.begin(), remainders.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t k = 0; k < remainders.size() && given < left; ++k, ++given) {
      ++got[remainders[k].second];
    }
    break;
  }
  return got;
}

}  // namespace

SlotBudget::SlotBudget(int slots, std::vector<QueueShare> queues) : slots_(slots) {
  std::vector<std::pair<double, int>> claims;
  for (auto& q : queues) {
    claims.push_back({static_cast<double>(q.weight), q.cap});
    queues_.push_back({.share = std::move(q)});
  }
  auto targets = Split(slots_, claims);
  for (size_t i = 0; i < queues_.size(); ++i) queues_[i].target = targets[i];
}

SlotBudget::State& SlotBudget::Find(const std::string& queue) {
  for (auto& s : queues_) {
    if (s.share.name == queue) return s;
  }
  throw Error(ErrorCode::kInvalidArgument, "no slot share for queue '" + queue + "'");
}

int SlotBudget::Take(const std::string& queue, int want) {
  std::lock_guard lock(mu_);
  auto& q = Find(queue);
  int n = std::max(0, std::min({want, q.target - q.busy, slots_ - busy_}));
  q.busy += n;
  q.fetching += n;
  busy_ += n;
  // Refused outright, it could not even look for work: wake it when a slot frees. (A queue that
  // got some looked, and its fetch says whether work waits.)
  q.wants = n == 0 && want > 0;
  return n;
}

std::vector<std::string> SlotBudget::Give(const std::string& queue, int n) {
  std::lock_guard lock(mu_);
  auto& q = Find(queue);
  n = std::min(n, q.busy);
  q.busy -= n;
  busy_ -= n;
  std::vector<std::string> wake;
  if (busy_ >= slots_) return wake;
  for (const auto& s : queues_) {
    if ((s.backlog || s.wants) && s.busy < s.target) wake.push_back(s.share.name);
  }
  return wake;
}

bool SlotBudget::Backlog(const std::string& queue, std::optional<bool> waiting, int taken) {
  std::lock_guard lock(mu_);
  auto& q = Find(queue);
  q.fetching = std::max(0, q.fetching - taken);
  if (!waiting || *waiting == q.backlog) return false;
  q.backlog = *waiting;
  return true;
}

void SlotBudget::Waited(const std::string& queue, Millis wait) {
  std::lock_guard lock(mu_);
  auto& q = Find(queue);
  q.wait_sum += static_cast<double>(std::max<int64_t>(0, wait.count()));
  ++q.waits;
}

void SlotBudget::Ran(const std::string& queue, Millis run) {
  std::lock_guard lock(mu_);
  auto& q = Find(queue);
  q.run_sum += static_cast<double>(std::max<int64_t>(0, run.count()));
  ++q.runs;
}

std::vector<SlotDecision> SlotBudget::Share() {
  std::lock_guard lock(mu_);
  // Moving averages, half old and half new: a queue's recent past counts, its distant past not.
  // A queue whose jobs did not start keeps its last averages.
  // A queue without work waiting whose jobs did not start waited for nothing: its wait fades.
  for (auto& q : queues_) {
    if (q.waits > 0) {
      q.wait_ms = 0.5 * q.wait_ms + 0.5 * q.wait_sum / q.waits;
    } else if (!q.backlog) {
      q.wait_ms *= 0.5;
    }
    if (q.runs > 0) q.run_ms = q.run_ms > 0 ? 0.5 * q.run_ms + 0.5 * q.run_sum / q.runs
                                            : q.run_sum / q.runs;
    q.wait_sum = q.run_sum = 0;
    q.waits = q.runs = 0;
  }
  std::vector<SlotDecision> out;
  int left = slots_;
  std::vector<std::pair<double, int>> claims;
  std::vector<size_t> pressed;
  for (size_t i = 0; i < queues_.size(); ++i) {
    auto& q = queues_[i];
    // Until one of its jobs ran, how long they wait has nothing to be weighed against.
    double pressure =
        q.run_ms > 0 ? 1 + std::min(q.wait_ms / std::max(q.run_ms, 1.0), kMaxPressure - 1) : 1;
    out.push_back({.queue = q.share.name, .before = q.target, .backlog = q.backlog,
                   .wait_ms = q.wait_ms, .run_ms = q.run_ms, .pressure = pressure});
    if (q.backlog) {
      claims.push_back({q.share.weight * pressure, q.share.cap});
      pressed.push_back(i);
    } else {
      // Keeps what it runs and one more; gives the rest away. Slots that a fetch under way took
      // are not what it runs: kept, a queue that never has work would keep what it last looked
      // for, share after share.
      q.target = std::clamp(q.busy - q.fetching + 1, 1, std::max(1, q.share.cap));
      left -= q.target;
    }
  }
  // Every queue with work waiting gets one slot at least: the idle ones' spare slots go first.
  for (auto& q : queues_) {
    if (left >= static_cast<int>(pressed.size())) break;
    if (!q.backlog && q.target > std::max(1, q.busy - q.fetching)) {
      --q.target;
      ++left;
    }
  }
  auto targets = Split(std::max(left, 0), claims);
  for (size_t k = 0; k < pressed.size(); ++k) queues_[pressed[k]].target = targets[k];
  for (size_t i = 0; i < queues_.size(); ++i) out[i].slots = queues_[i].target;
  return out;
}

std::map<std::string, int> SlotBudget::Targets() const {
  std::lock_guard lock(mu_);
  std::map<std::string, int> out;
  for (const auto& q : queues_) out[q.share.name] = q.target;
  return out;
}

int SlotBudget::Busy() const {
  std::lock_guard lock(mu_);
  return busy_;
}

}  // namespace spindle::regulation
