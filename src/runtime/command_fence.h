// A deadline the supervisors of a worker's commands enforce on their own: by then every command
// of that worker must be dead, and a supervisor SIGKILLs its command's group when it passes,
// also when the worker cannot act (it is frozen: SIGSTOP, a long pause). The worker moves it
// forward with every heartbeat and lease renewal the database accepts (docs/coordination.md,
// "Guarantees").
//
// The deadline lives in memory shared with the supervisors (a MAP_SHARED page mapped before any
// supervisor is forked), as CLOCK_MONOTONIC nanoseconds, which std::chrono::steady_clock is on
// Linux and which every process on the host shares.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace spindle::runtime {

class CommandFence {
 public:
  // Takes a slot of the process's shared page; the deadline starts as "never".
  CommandFence();
  ~CommandFence();
  CommandFence(const CommandFence&) = delete;
  CommandFence& operator=(const CommandFence&) = delete;

  void Set(std::chrono::steady_clock::time_point dead_by);
  // For a supervisor: CLOCK_MONOTONIC nanoseconds; INT64_MAX when there is no deadline.
  const std::atomic<int64_t>* slot() const { return slot_; }

  static constexpr int64_t kNever = INT64_MAX;

 private:
  std::atomic<int64_t>* slot_;
};

}  // namespace spindle::runtime
