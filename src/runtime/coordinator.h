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

#include "runtime/command_fence.h"
#include "runtime/service.h"
#include "spindle/worker.h"
#include "store/store.h"

namespace spindle::runtime {

// The decisions, pure so that tests drive them directly.

// How many partitions a worker sees: the highest number among its own and those of members
// heard from within `partition_timeout`.
int PartitionCount(const Membership& m, std::optional<int> own, Millis partition_timeout);
// The partitions (0-based, of `count`) worker `self`, holding number `own`, fetches: its own,
// and the orphans it adopts. A number of 1..count that no member heard from within
// `partition_timeout` holds is an orphan; of the live numbered members (and `self`), the one
// with the highest hash with the orphan's number adopts it, so each orphan is served by
// exactly one live worker as fast as its own partition (rendezvous hashing, as for
// assignments).
std::vector<int> PartitionsOf(const Membership& m, const std::string& self, int own, int count,
                              Millis partition_timeout);
// The member after `self` in id order, wrapping around; nullopt when there is no other.
std::optional<std::string> Neighbour(const Membership& m, const std::string& self);
// Rendezvous hashing: of the members with `role`, the one whose hash with the assignment's name
// is highest. Adding or removing a member moves only the assignments it gains or held.
std::optional<std::string> OwnerOf(const std::string& assignment, const std::string& role,
                                   const Membership& m);

// Throws Error(kInvalidArgument) for cluster options that cannot work.
void CheckClusterOptions(const ClusterOptions& options);

// Self-fencing (docs/coordination.md, "Guarantees"): a worker that has not reached the database
// stops its work this long before its peers may take that work over: the longest its stop may
// take (a command's kill_grace, an assignment's stop_timeout), plus a second for the kill to
// land and for clocks that tick at slightly different rates.
inline constexpr Millis kFenceSlack{1000};
Millis FenceMargin(Millis longest_stop);
// Throws Error(kInvalidArgument) naming `what` when a stop of `longest_stop` cannot be fenced
// in time under these options: the margin must leave two heartbeat intervals of the heartbeat
// timeout, and half the lease (renewed every third of it).
// (`lease` unset: only the heartbeat, as for assignments, which hold no lease.)
void CheckFenceMargin(const ClusterOptions& options, std::optional<Millis> lease,
                      Millis longest_stop, const std::string& what);

// An external command run as an assignment (see Worker::RegisterAssignmentCommand).
// `fence` (the worker's) kills it when the worker cannot reach the database in time.
AssignmentHandler CommandAssignment(const std::string& role, const std::string& worker_id,
                                    CommandOptions command, const CommandFence* fence);

class Coordinator {
 public:
  struct Partition {
    int count = 0;             // 0: unpartitioned
    std::vector<int> indexes;  // 0-based: its own first, then the orphans it adopted
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
  // Told of elections, membership changes, evictions' rescues and partitions. Set before Start.
  std::shared_ptr<WorkerObserver> observer = std::make_shared<WorkerObserver>();
  // Set: each heartbeat records what it returns as the worker's concurrency per queue.
  std::function<std::map<std::string, int>()> concurrency_now;

  Partition partition() const;
  bool leader() const;
  std::vector<std::string> running() const;
  // When the database last accepted this worker's heartbeat (the time it was sent).
  std::chrono::steady_clock::time_point last_heartbeat() const;
  // How many times this worker has registered: it grows with every registration after an
  // eviction, which gave everything the worker held to others.
  uint64_t registrations() const { return registrations_; }

  // One round of each loop, for tests and for the loops themselves.
  bool Tick();
  bool Rebalance();
  // Stops every assignment when this worker is fenced (no heartbeat accepted for
  // heartbeat_timeout minus the fence margin). Touches no database. Run by its own loop.
  bool Fence();

 private:
  using Steady = std::chrono::steady_clock;
  struct Declared {
    std::string role;
    AssignmentHandler handler;
  };

  void Register();
  bool Fenced(Steady::time_point now) const;  // with mu_ held
  // Stops these assignments (in parallel) and releases their claims. Each running assignment
  // is stopped by exactly one caller, whichever loop asks first.
  void StopRunning(const std::vector<std::string>& names);
  // Releases the claim; when that fails, the claim is kept in unreleased_ and tried again
  // every round.
  void Release(const std::string& name);
  void RetryReleases();

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
  std::optional<int64_t> recorded_term_;  // the last term told to the cluster's history (ticker)
  Partition partition_;
  std::set<std::string> running_;     // started, not being stopped
  std::set<std::string> stopping_;    // a stop is under way
  std::set<std::string> unreleased_;  // stopped; releasing the claim failed
  Millis fence_margin_{0};
  std::atomic<uint64_t> registrations_{0};

  std::unique_ptr<LoopService> ticker_, assigner_, fencer_;
};

}  // namespace spindle::runtime
