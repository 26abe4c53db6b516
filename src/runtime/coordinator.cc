#include "runtime/coordinator.h"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "core/duration.h"
#include "core/log.h"
#include "core/text.h"
#include "runtime/command.h"
#include "spindle/error.h"

namespace spindle::runtime {

namespace {

// FNV-1a, then a SplitMix64 finalizer so that names differing in one character spread evenly.
uint64_t Hash(std::string_view a, std::string_view b) {
  uint64_t h = 14695981039346656037ULL;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  };
  mix(a);
  mix(std::string_view("\0", 1));
  mix(b);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

bool HasRole(const Member& m, const std::string& role) {
  return std::find(m.info.roles.begin(), m.info.roles.end(), role) != m.info.roles.end();
}

}  // namespace

int PartitionCount(const Membership& m, std::optional<int> own, Millis partition_timeout) {
  if (!own) return 0;
  int count = *own;
  for (const auto& member : m.members) {
    if (member.info.partition && member.silent_for < partition_timeout) {
      count = std::max(count, *member.info.partition);
    }
  }
  return count;
}

std::vector<int> PartitionsOf(const Membership& m, const std::string& self, int own, int count,
                              Millis partition_timeout) {
  std::vector<int> indexes{own - 1};
  std::set<int> live{own};
  std::vector<std::string> adopters{self};
  for (const auto& member : m.members) {
    if (!member.info.partition || member.silent_for >= partition_timeout) continue;
    live.insert(*member.info.partition);
    if (member.info.id != self) adopters.push_back(member.info.id);
  }
  for (int n = 1; n <= count; ++n) {
    if (live.count(n)) continue;
    std::string orphan = "partition " + std::to_string(n);
    const std::string* best = nullptr;
    uint64_t best_score = 0;
    for (const auto& id : adopters) {
      uint64_t score = Hash(orphan, id);
      if (!best || score > best_score || (score == best_score && id < *best)) {
        best = &id;
        best_score = score;
      }
    }
    if (*best == self) indexes.push_back(n - 1);
  }
  return indexes;
}

std::optional<std::string> Neighbour(const Membership& m, const std::string& self) {
  std::optional<std::string> first, next;
  for (const auto& member : m.members) {  // ordered by id
    const auto& id = member.info.id;
    if (id == self) continue;
    if (!first) first = id;
    if (!next && id > self) next = id;
  }
  return next ? next : first;
}

std::optional<std::string> OwnerOf(const std::string& assignment, const std::string& role,
                                   const Membership& m) {
  std::optional<std::string> best;
  uint64_t best_score = 0;
  for (const auto& member : m.members) {
    if (!HasRole(member, role)) continue;
    uint64_t score = Hash(assignment, member.info.id);
    if (!best || score > best_score || (score == best_score && member.info.id < *best)) {
      best = member.info.id;
      best_score = score;
    }
  }
  return best;
}

AssignmentHandler CommandAssignment(const std::string& role, const std::string& worker_id,
                                    CommandOptions command, const CommandFence* fence) {
  struct Run {
    CancelToken token;
    std::thread thread;
  };
  struct State {
    std::mutex mu;
    std::map<std::string, std::unique_ptr<Run>> runs;
  };
  auto state = std::make_shared<State>();
  Millis stop_timeout = command.kill_grace;  // SIGTERM, then SIGKILL after kill_grace
  auto start = [state, role, worker_id, command, fence](const std::string& name) {
    auto run = std::make_unique<Run>();
    Run* raw = run.get();
    raw->thread = std::thread([raw, name, role, worker_id, command, fence] {
      // Runs until stopped; a command that exits by itself is started again after a pause.
      while (!raw->token.cancelled()) {
        CommandRun cr;
        cr.argv = command.argv;
        cr.stdin_data =
            Json{{"assignment", name}, {"role", role}, {"worker", worker_id}}.dump() + "\n";
        cr.kill_grace = command.kill_grace;
        cr.cancel = &raw->token;
        cr.fence = fence;
        auto r = RunCommand(cr);
        if (raw->token.cancelled()) break;
        core::Log().warn("event=assignment_exited assignment={} result={}", name,
                         core::LogValue(r.Describe()));
        raw->token.WaitFor(std::chrono::seconds(1));
      }
    });
    std::lock_guard lock(state->mu);
    state->runs[name] = std::move(run);
  };
  auto stop = [state](const std::string& name) {
    std::unique_ptr<Run> run;
    {
      std::lock_guard lock(state->mu);
      auto it = state->runs.find(name);
      if (it == state->runs.end()) return;
      run = std::move(it->second);
      state->runs.erase(it);
    }
    run->token.Cancel();  // SIGTERM, then SIGKILL after kill_grace
    run->thread.join();
  };
  return {start, stop, stop_timeout};
}

void CheckClusterOptions(const ClusterOptions& o) {
  if (o.heartbeat_interval < Millis(10) || o.heartbeat_timeout < 2 * o.heartbeat_interval ||
      o.partition_timeout < o.heartbeat_interval || o.leader_ttl < 2 * o.heartbeat_interval ||
      o.stability_period < Millis(0) || (o.partition && *o.partition < 0)) {
    throw Error(ErrorCode::kInvalidArgument,
                "cluster options: heartbeat_interval must be at least 10ms; heartbeat_timeout "
                "and leader_ttl at least 2 heartbeat intervals; partition_timeout at least one; "
                "partition 1 or more (0: automatic)");
  }
}

Millis FenceMargin(Millis longest_stop) { return longest_stop + kFenceSlack; }

void CheckFenceMargin(const ClusterOptions& o, std::optional<Millis> lease, Millis longest_stop,
                      const std::string& what) {
  Millis margin = FenceMargin(longest_stop);
  std::vector<std::string> raise;
  if (o.heartbeat_timeout < margin + 2 * o.heartbeat_interval) {
    raise.push_back(fmt::format("[cluster] heartbeat_timeout must be at least {} (the margin and "
                                "two heartbeat intervals; it is {})",
                                core::FormatDuration(margin + 2 * o.heartbeat_interval),
                                core::FormatDuration(o.heartbeat_timeout)));
  }
  if (lease && *lease < 2 * margin) {
    raise.push_back(fmt::format("[worker] lease must be at least {} (twice the margin; it is {})",
                                core::FormatDuration(2 * margin), core::FormatDuration(*lease)));
  }
  if (!raise.empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("{} may take {} to stop, so a worker cut off from the database must "
                            "begin stopping it {} before its peers may take it over: {}. Raise "
                            "them, or shorten the stop",
                            what, core::FormatDuration(longest_stop),
                            core::FormatDuration(margin), fmt::join(raise, ", and ")));
  }
}

Coordinator::Coordinator(Store& store, MemberInfo me, ClusterOptions options)
    : store_(store), me_(std::move(me)), opts_(std::move(options)) {
  CheckClusterOptions(opts_);
  me_.partition = opts_.partition;
  me_.heartbeat_timeout = opts_.heartbeat_timeout;
  me_.roles = opts_.roles;
}

Coordinator::~Coordinator() {
  if (ticker_) ticker_->Stop();
  if (assigner_) assigner_->Stop();
  if (fencer_) fencer_->Stop();
}

void Coordinator::AddAssignment(const std::string& name, const std::string& role,
                                AssignmentHandler h) {
  if (name.empty() || role.empty() || !h.start || !h.stop) {
    throw Error(ErrorCode::kInvalidArgument,
                "an assignment needs a name, a role, and start and stop callbacks");
  }
  declared_[name] = {role, std::move(h)};
}

void Coordinator::Register() {
  auto m = store_.MemberRegister(me_);
  // Keep an automatic number across re-registrations.
  if (me_.partition == kAutoPartition) me_.partition = m.info.partition;
  auto now = Steady::now();
  std::lock_guard lock(mu_);
  registered_ = true;
  ++registrations_;
  last_beat_ok_ = now;  // last_beat_try_ stays: the first Tick heartbeats and seeks the lead at once
  core::Log().info("event=member_registered worker={} partition={} roles={}", me_.id,
                   me_.partition ? std::to_string(*me_.partition) : "none",
                   fmt::join(me_.roles, ","));
}

void Coordinator::Start() {
  Millis longest_stop{0};
  for (const auto& [name, d] : declared_) {
    CheckFenceMargin(opts_, std::nullopt, d.handler.stop_timeout, "assignment '" + name + "'");
    longest_stop = std::max(longest_stop, d.handler.stop_timeout);
  }
  fence_margin_ = FenceMargin(longest_stop);
  Register();
  Millis tick = std::min(opts_.heartbeat_interval, Millis(1000));
  ticker_ = std::make_unique<LoopService>("coordinator", tick, [this] { return Tick(); });
  assigner_ = std::make_unique<LoopService>("assigner", tick, [this] { return Rebalance(); });
  fencer_ = std::make_unique<LoopService>("fence", Millis(50), [this] { return Fence(); });
  try {
    Tick();
  } catch (const Error& e) {
    // Registered, so the database was there a moment ago: the loop tries again, as it does
    // whenever the database goes away.
    if (e.code() != ErrorCode::kUnavailable) throw;
    core::Log().warn("event=service_error service=coordinator error={}", core::LogValue(e.what()));
  }
  ticker_->Start();
  if (!declared_.empty()) {
    assigner_->Start();
    fencer_->Start();
  }
}

void Coordinator::Wake() {
  if (ticker_) ticker_->Wake();
}

bool Coordinator::Tick() {
  auto start = Steady::now();
  bool beat;
  {
    std::lock_guard lock(mu_);
    beat = start - last_beat_try_ >= opts_.heartbeat_interval;
    if (beat) last_beat_try_ = start;
  }
  if (beat) {
    int count = partition().count;
    std::optional<std::map<std::string, int>> concurrency;
    if (concurrency_now) concurrency = concurrency_now();
    if (store_.MemberHeartbeat(me_.id, count, concurrency ? &*concurrency : nullptr)) {
      std::lock_guard lock(mu_);
      last_beat_ok_ = start;
    } else {
      core::Log().warn("event=member_evicted worker={} (silent past its heartbeat timeout)",
                       me_.id);
      {
        std::lock_guard lock(mu_);
        registered_ = false;
        leader_until_ = {};
      }
      StopRunning(running());  // their claims went with the eviction
      if (on_evicted) on_evicted();
      Register();
    }
  }

  Membership ms = store_.MemberList();
  bool was_leader = leader();

  // Evict members silent past their own timeout: the leader sweeps everyone, the others check
  // their neighbour (so a dead leader is still evicted).
  auto neighbour = Neighbour(ms, me_.id);
  bool sweep = false;
  for (const auto& m : ms.members) {
    if (m.info.id != me_.id && m.silent_for > m.info.heartbeat_timeout &&
        (was_leader || m.info.id == neighbour)) {
      sweep = true;
    }
  }
  if (sweep) {
    auto removed = store_.MemberRemove(was_leader ? std::nullopt : neighbour, true);
    if (!removed.empty()) {
      core::Log().warn("event=members_evicted by={} evicted={}", me_.id, fmt::join(removed, ","));
      for (const auto& id : removed) {
        store_.ClusterEventRecord("evicted", id,
                                  fmt::format("by {}: silent past its heartbeat timeout", me_.id));
      }
      int rescued = store_.JobRescue(10000);
      if (rescued) {
        core::Log().info("event=rescued jobs={} reason=eviction", rescued);
        store_.ClusterEventRecord(
            "rescued", me_.id,
            fmt::format("{} of evicted {}", core::Counted(rescued, "job"), fmt::join(removed, ", ")));
        observer->Rescued(true, rescued);
      }
      ms = store_.MemberList();
    }
  }

  int count = PartitionCount(ms, me_.partition, opts_.partition_timeout);
  {
    std::lock_guard lock(mu_);
    if (ms.version != membership_.version) last_change_ = start;
    bool changed = ms.version != membership_.version;
    membership_ = std::move(ms);
    std::vector<int> indexes;
    if (count > 0) {
      indexes = PartitionsOf(membership_, me_.id, *me_.partition, count, opts_.partition_timeout);
    }
    if (count != partition_.count || indexes != partition_.indexes) {
      partition_ = {count, std::move(indexes)};
      core::Log().info("event=repartitioned worker={} partition={} of={} adopted={}", me_.id,
                       count ? std::to_string(*me_.partition) : "none", count,
                       partition_.indexes.size() > 1 ? partition_.indexes.size() - 1 : 0);
      observer->PartitionsOwned(static_cast<int>(partition_.indexes.size()));
    }
    if (changed && assigner_) assigner_->Wake();
    if (changed) observer->MembershipChanged();
  }

  if (beat) {
    auto term = store_.LeaderAcquire(me_.id, opts_.leader_ttl);
    {
      std::lock_guard lock(mu_);
      // Valid locally a little shorter than in the database: stop acting before others start.
      leader_until_ = term ? start + opts_.leader_ttl * 9 / 10 : Steady::time_point{};
    }
    if (term && !was_leader) {
      core::Log().info("event=leader_elected worker={} term={}", me_.id, *term);
      // A term kept across a local lapse (a slow tick) is no new election.
      if (term != recorded_term_) {
        store_.ClusterEventRecord("elected", me_.id, fmt::format("term {}", *term));
        recorded_term_ = term;
      }
      observer->Elected();
    } else if (!term && was_leader) {
      core::Log().warn("event=leader_lost worker={}", me_.id);
    }
  }
  return false;
}

bool Coordinator::Fenced(Steady::time_point now) const {
  // Not heard by the database for a heartbeat timeout: others may evict this worker at any
  // moment and start its assignments. So stop them a margin before that, in which the stop
  // completes.
  return !registered_ || now - last_beat_ok_ > opts_.heartbeat_timeout - fence_margin_;
}

bool Coordinator::Fence() {
  std::vector<std::string> all;
  {
    std::lock_guard lock(mu_);
    if (running_.empty() || !Fenced(Steady::now())) return false;
    all.assign(running_.begin(), running_.end());
  }
  core::Log().warn("event=fenced worker={} assignments={} (no heartbeat accepted lately)", me_.id,
                   all.size());
  StopRunning(all);
  return false;
}

bool Coordinator::Rebalance() {
  RetryReleases();
  auto now = Steady::now();
  std::vector<std::string> lose, want;
  {
    std::lock_guard lock(mu_);
    bool fenced = Fenced(now);
    for (const auto& [name, d] : declared_) {
      bool mine = !fenced && OwnerOf(name, d.role, membership_) == me_.id;
      bool runs = running_.count(name) > 0;
      if (runs && !mine) lose.push_back(name);
      // Not while its last stop is under way; a claim this worker failed to release is still
      // its own, so it may start again.
      if (!runs && mine && !stopping_.count(name)) want.push_back(name);
    }
    // Joining, or starting a moved assignment, waits until the membership settles.
    if (now - last_change_ < opts_.stability_period) want.clear();
  }
  StopRunning(lose);
  for (const auto& name : want) {
    try {
      if (!store_.AssignmentClaim(name, me_.id)) continue;  // the last owner still stops it
    } catch (const Error& e) {
      // Unreachable: try again next round (and keep checking the fence meanwhile).
      core::Log().warn("event=assignment_claim_failed assignment={} error={}", name,
                       core::LogValue(e.what()));
      return false;
    }
    try {
      declared_.at(name).handler.start(name);
    } catch (const std::exception& e) {
      core::Log().error("event=assignment_start_failed assignment={} error={}", name,
                        core::LogValue(e.what()));
      Release(name);
      continue;
    }
    core::Log().info("event=assignment_started assignment={} worker={}", name, me_.id);
    std::lock_guard lock(mu_);
    unreleased_.erase(name);
    running_.insert(name);
  }
  return false;
}

void Coordinator::StopRunning(const std::vector<std::string>& requested) {
  std::vector<std::string> names;
  {
    std::lock_guard lock(mu_);
    for (const auto& name : requested) {
      if (running_.erase(name)) {
        stopping_.insert(name);
        names.push_back(name);
      }
    }
  }
  std::vector<std::thread> stops;
  for (const auto& name : names) {
    stops.emplace_back([this, name] {
      try {
        declared_.at(name).handler.stop(name);
      } catch (const std::exception& e) {
        core::Log().error("event=assignment_stop_failed assignment={} error={}", name,
                          core::LogValue(e.what()));
      }
      core::Log().info("event=assignment_stopped assignment={} worker={}", name, me_.id);
    });
  }
  for (auto& t : stops) t.join();
  for (const auto& name : names) Release(name);
  std::lock_guard lock(mu_);
  for (const auto& name : names) stopping_.erase(name);
}

void Coordinator::Release(const std::string& name) {
  try {
    store_.AssignmentRelease(name, me_.id);
    std::lock_guard lock(mu_);
    unreleased_.erase(name);
  } catch (const Error& e) {
    // Held by a live worker that does not run it, the claim would keep everyone else from
    // starting the assignment: try again every round (an eviction frees it too).
    core::Log().warn("event=assignment_release_failed assignment={} error={}", name,
                     core::LogValue(e.what()));
    std::lock_guard lock(mu_);
    unreleased_.insert(name);
  }
}

void Coordinator::RetryReleases() {
  std::vector<std::string> names;
  {
    std::lock_guard lock(mu_);
    for (const auto& name : unreleased_) {
      if (!running_.count(name) && !stopping_.count(name)) names.push_back(name);
    }
  }
  for (const auto& name : names) Release(name);
}

void Coordinator::StopAssignments() {
  if (assigner_) assigner_->Stop();
  if (fencer_) fencer_->Stop();
  StopRunning(running());
}

void Coordinator::Stop() {
  StopAssignments();
  if (ticker_) ticker_->Stop();
  // Never registered (refused: another live worker holds the id): the row is not this one's.
  if (registrations_ == 0) return;
  try {
    store_.MemberRemove(me_.id, false);
  } catch (const Error& e) {
    core::Log().warn("event=deregister_failed worker={} error={}", me_.id, core::LogValue(e.what()));
  }
}

Coordinator::Partition Coordinator::partition() const {
  std::lock_guard lock(mu_);
  return partition_;
}

bool Coordinator::leader() const {
  std::lock_guard lock(mu_);
  return Steady::now() < leader_until_;
}

std::vector<std::string> Coordinator::running() const {
  std::lock_guard lock(mu_);
  return {running_.begin(), running_.end()};
}

std::chrono::steady_clock::time_point Coordinator::last_heartbeat() const {
  std::lock_guard lock(mu_);
  return last_beat_ok_;
}

}  // namespace spindle::runtime
