// Adaptive concurrency (docs/regulation.md, "Adaptive concurrency"): one worker's slot budget,
// shared among its queues by weight and re-shared from what each queue's jobs were seen to wait
// and run (their sojourn). Local to one worker process; the cluster-wide limits are admission.h.
//
// Each queue has a target, the slots it may fill. A queue with no backlog keeps what it runs plus
// one (so that new work starts at once) and gives the rest away; the queues with a backlog share
// the rest in proportion to weight x pressure, where pressure grows from 1 to kMaxPressure as
// their jobs wait longer than they run. So a queue whose jobs wait gets more, and a flooded
// low-weight queue cannot crowd out a high-weight one: pressure is bounded, so a queue with a
// backlog gets at least weight / (kMaxPressure x all weights) of the slots. Whatever the targets,
// the worker never runs more than `slots` jobs at once: a queue fetches only into free slots.
//
// Thread-safe. Time enters only through what callers report (Waited, Ran), and Share() runs
// when the caller says, so tests drive it directly.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "spindle/job.h"

namespace spindle::regulation {

inline constexpr double kMaxPressure = 4;

struct QueueShare {
  std::string name;
  int weight = 1;  // 1 to 1000
  int cap = 10;    // the queue's concurrency: it never gets more
};

// What Share() decided for a queue, and why.
struct SlotDecision {
  std::string queue;
  int before = 0, slots = 0;
  bool backlog = false;
  double wait_ms = 0, run_ms = 0;  // the moving averages it used
  double pressure = 1;
};

class SlotBudget {
 public:
  // Every queue starts with a share of `slots` by weight, at least 1 and at most its cap.
  // `slots` must be at least the number of queues, so that every queue always has a slot of
  // its own and the shares never add up to more than `slots`.
  SlotBudget(int slots, std::vector<QueueShare> queues);

  // Takes up to `want` slots for a fetch of `queue`: as many as its target and the free slots
  // allow (0: none). They are busy until Give.
  int Take(const std::string& queue, int want);
  // `n` busy slots of `queue` are free again (jobs ended, or a fetch found fewer jobs than it
  // took slots for). Returns the queues that may now fetch and have work waiting or were refused
  // slots: wake them.
  std::vector<std::string> Give(const std::string& queue, int n);
  // What a fetch of `queue` that took `taken` slots (Take) found: all it asked for (work likely
  // waits: true), fewer (false), or nothing to tell (nullopt: it failed). Its slots now hold its
  // jobs, not a fetch under way; those it did not fill are given back with Give. Only fetches
  // that succeed tell: a queue that gets no slot, or whose fetch failed, keeps what its last
  // fetch said. Returns true when that changed: share again now.
  bool Backlog(const std::string& queue, std::optional<bool> waiting, int taken = 0);
  // A job of `queue` started `wait` after it was due; one ran for `run`.
  void Waited(const std::string& queue, Millis wait);
  void Ran(const std::string& queue, Millis run);

  // Shares the slots again from what was reported since the last call. Returns every queue's
  // decision, in the order given to the constructor.
  std::vector<SlotDecision> Share();

  int slots() const { return slots_; }
  std::map<std::string, int> Targets() const;
  int Busy() const;

 private:
  struct State {
    QueueShare share;
    int target = 1;
    int busy = 0;
    int fetching = 0;  // of busy: taken by a fetch still under way, so not its jobs' (yet)
    bool backlog = false;
    bool wants = false;  // its last Take got no slot at all: wake it when one frees
    double wait_sum = 0, run_sum = 0;  // since the last Share
    int waits = 0, runs = 0;
    double wait_ms = 0, run_ms = 0;    // moving averages
  };
  State& Find(const std::string& queue);

  const int slots_;
  mutable std::mutex mu_;
  std::vector<State> queues_;
  int busy_ = 0;
};

}  // namespace spindle::regulation
