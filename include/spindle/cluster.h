// The cluster as the database records it: members, the leader, assignment holders
// (docs/coordination.md), queues and the cluster's stop switch (docs/jobs.md).
#pragma once

#include <map>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "spindle/job.h"

namespace spindle {

// A worker as it registers itself in the cluster (docs/coordination.md).
struct MemberInfo {
  std::string id;
  std::string host;
  int pid = 0;
  std::string version;
  std::vector<std::string> queues;
  // Each queue's concurrency: how many of its jobs the worker runs at once.
  std::map<std::string, int> concurrency;
  // The kinds the worker has handlers for: the only ones it fetches, from each of its queues.
  std::vector<std::string> kinds;
  std::vector<std::string> roles;
  // Partitioned dispatch: the worker's number (1-based), kAutoPartition for the lowest number
  // no member holds, or nullopt for an unpartitioned worker.
  std::optional<int> partition;
  // The worker promises to heartbeat at least this often; silent longer, it is evicted.
  Millis heartbeat_timeout{10000};
  // A random token each worker process makes when it starts. A registration of an id that a live
  // member of another incarnation holds is refused (two processes must not share one member);
  // the same incarnation registers again as before (after an eviction, or a retry).
  std::string incarnation;
};
inline constexpr int kAutoPartition = 0;

struct Member {
  MemberInfo info;  // partition: the number it holds (auto resolved)
  int partition_count = 0;  // how many partitions the worker saw at its last heartbeat
  SysTime started_at;
  SysTime heartbeat_at;
  Millis silent_for{0};  // since its last heartbeat, by the database's clock
  bool leader = false;   // holds an unexpired leader term

  // Heard from within its heartbeat timeout. A silent member is evicted by its peers soon.
  bool live() const { return silent_for <= info.heartbeat_timeout; }
  // Live, and fetches jobs of `kind` from `queue`.
  bool Serves(const std::string& kind, const std::string& queue) const;
};

struct Membership {
  int64_t version = 0;  // grows with every join, leave and eviction
  std::vector<Member> members;  // ordered by id

  // Why no live worker would run a job of `kind` in `queue` (a sentence), or nullopt when one
  // would: the warning of `spindle enqueue` and of the API's enqueue.
  std::optional<std::string> Unserved(const std::string& kind, const std::string& queue) const;
  // The member holding the leader term; null when none does.
  const Member* Leader() const;
};

// An event of the cluster's history (docs/coordination.md, "History"), newest 1,000 kept.
struct ClusterEvent {
  int64_t id = 0;
  SysTime at;
  std::string kind;    // "elected", "evicted" or "rescued"
  std::string worker;  // elected: the new leader; evicted: the member; rescued: who rescued
  std::string detail;  // a sentence: the term, who evicted and why, how many jobs and why
};

struct ClaimedAssignment {
  std::string name;
  std::string owner;
  SysTime claimed_at;
};

// A queue as people steer it: paused or not, and its jobs by state.
// The order in which a queue's jobs are fetched within each priority (docs/jobs.md,
// "Deadlines"): fifo (run_at, then id), or earliest deadline first (jobs without a deadline
// after those with one, in fifo order).
enum class QueueOrder { kFifo, kDeadline };
std::string_view ToString(QueueOrder order);
std::optional<QueueOrder> ParseQueueOrder(std::string_view name);

// A queue's dispatch settings, as the workers that serve it declare them (QueueOptions) and the
// last of them to start recorded them.
struct QueueSettings {
  QueueOrder order = QueueOrder::kFifo;
  // Jobs that can no longer meet their deadline expire instead of running late.
  bool shed = false;
  // Fair shares (docs/regulation.md, "Fair shares"): a path into a job's args ("customer_id",
  // "account.id") whose value names its tenant. Within each priority, tenants with backlogs
  // take turns starting jobs, each in proportion to its weight. Unset: not fair. Not with
  // QueueOrder::kDeadline.
  std::optional<std::string> fair_key;
  std::map<std::string, double> fair_weights;  // by tenant; 0.001 to 1000; others weigh 1

  // Throws kInvalidArgument, naming `queue`, when the settings are not valid.
  void Validate(std::string_view queue) const;
};

struct QueueInfo {
  std::string name;
  QueueSettings settings;  // as recorded (defaults when no worker recorded any)
  std::optional<SysTime> paused_at;  // set: no new fetches; running jobs finish
  std::map<std::string, int64_t> jobs;  // by state name
  // The run_at of its oldest available job (due since then); unset: none available.
  std::optional<SysTime> oldest_available;
  // Its live consumers (Client::Queues): how many live workers fetch from it, and how many of
  // its jobs they run at once in all.
  int consumers = 0;
  int concurrency = 0;

  // It has available jobs and no live consumer: nobody will run them.
  bool unserved() const;
};

// The cluster's stop switch. While stopped, nothing is fetched; the jobs that were running were
// handed back and run again when the cluster resumes.
struct ClusterState {
  std::optional<SysTime> stopped_at;
  std::string stop_reason;
};

// As `spindle ... --json` and the HTTP API show them (docs/api.md).
Json ToJson(const Member& m);
Json ToJson(const QueueInfo& q);
Json ToJson(const ClusterEvent& e);
// The switch, the number of members and the leader's id (null: none).
Json ToJson(const ClusterState& c, const Membership& ms);

}  // namespace spindle
