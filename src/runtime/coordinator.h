// Cluster coordination inside one worker (docs/coordination.md): membership with heartbeats and
// neighbour eviction, leader election, the partition this worker fetches, and the assignments
// it runs. Two loops: the ticker (heartbeat, membership, eviction, partitions, leadership) and
// the assigner (starts and stops assignments; slow stop callbacks never delay a heartbeat).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "runtime/service.h"
#include "spindle/worker.h"
#include "store/store.h"

namespace spindle::runtime {

// The decisions, pure so that tests drive them directly.

// How many partitions a worker sees: the highest number among its own and those of members
// heard from within `partition_timeout`.
int PartitionCount(const Membership& m, std::optional<int> own, Millis partition_timeout);
// The member after `self` in id order, wrapping around; nullopt when there is no other.
std::optional<std::string> Neighbour(const Membership& m, const std::string& self);
// Rendezvous hashing: of the members with `role`, the one whose hash with the assignment's name
// is highest. Adding or removing a member moves only the assignments it gains or held.
std::optional<std::string> OwnerOf(const std::string& assignment, const std::string& role,
                                   const Membership& m);

// Throws Error(kInvalidArgument) for cluster options that cannot work.
void CheckClusterOptions(const ClusterOptions& options);

// An external command run as an assignment (see Worker::RegisterAssignmentCommand).
AssignmentHandler CommandAssignment(const std::string& role, const std::string& worker_id,
                                    CommandOptions command);

class Coordinator {
 public:
  struct Partition {
    int index = 0;  // 0-based
    int count = 0;  // 0: unpartitioned
  };

  Coordinator(Store& store, MemberInfo me, ClusterOptions options);
  ~Coordinator();

  void AddAssignment(const std::string& name, const std::string& role, AssignmentHandler h);

  // Registers (throws when the database refuses) and starts both loops.
  void Start();
  // Stops the assignments this worker runs and releases them (the hand-off).
  void StopAssignments();
  // Stops the loops and deregisters. After StopAssignments.
  void Stop();
  // The membership changed (a notification): look now.
  void Wake();

  // Called (on the ticker's thread) when this worker finds it was evicted: its running jobs
  // were given to others.
  std::function<void()> on_evicted;

  Partition partition() const;
  bool leader() const;
  std::vector<std::string> running() const;

  // One round of each loop, for tests and for the loops themselves.
  bool Tick();
  bool Rebalance();

 private:
  using Steady = std::chrono::steady_clock;
  struct Declared {
    std::string role;
    AssignmentHandler handler;
  };

  void Register();
  bool Fenced(Steady::time_point now) const;
  // Stops these assignments (in parallel) and releases their claims.
  void StopRunning(const std::vector<std::string>& names);
  void Release(const std::string& name);

  Store& store_;
  MemberInfo me_;
  const ClusterOptions opts_;
  std::map<std::string, Declared> declared_;

  mutable std::mutex mu_;  // guards the fields below
  bool registered_ = false;
  Membership membership_;
  Steady::time_point last_change_;   // membership version last changed (stability)
  Steady::time_point last_beat_ok_;  // last heartbeat the database accepted
  Steady::time_point last_beat_try_;
  Steady::time_point leader_until_;
  Partition partition_;
  std::set<std::string> running_;

  std::unique_ptr<LoopService> ticker_, assigner_;
};

}  // namespace spindle::runtime
