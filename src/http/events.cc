#include "http/events.h"

#include "core/time.h"
#include "spindle/error.h"

namespace spindle::http {

Json Event::ToJson() const {
  return {
      {"id", std::to_string(id)}, {"type", type}, {"at", core::FormatRfc3339(at)}, {"data", data}};
}

EventHub::EventHub(Client& client, Instruments& instruments, Millis interval, int max_streams)
    : client_(client),
      instruments_(instruments),
      interval_(interval),
      max_streams_(max_streams),
      thread_([this] { Loop(); }) {}

EventHub::~EventHub() {
  Close();
  thread_.join();
}

void EventHub::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  changed_.notify_all();
}

bool EventHub::OpenStream() {
  std::lock_guard lock(mu_);
  if (streams_ >= max_streams_) return false;
  ++streams_;
  return true;
}

void EventHub::CloseStream() {
  std::lock_guard lock(mu_);
  --streams_;
}

bool EventHub::closed() {
  std::lock_guard lock(mu_);
  return closed_;
}

int64_t EventHub::last_id() {
  std::lock_guard lock(mu_);
  listened_ = std::chrono::steady_clock::now();
  return next_id_ - 1;
}

int64_t EventHub::reads() {
  std::lock_guard lock(mu_);
  return reads_;
}

std::vector<Event> EventHub::Since(int64_t after, Millis wait, bool& gap) {
  std::unique_lock lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    listened_ = std::chrono::steady_clock::now();
    // Dropped from the ring, or an id of another server or an earlier life of this one.
    gap = (!ring_.empty() && ring_.front().id > after + 1) || after > next_id_ - 1;
    if (gap && after > next_id_ - 1) return {};
    std::vector<Event> out;
    for (const auto& e : ring_) {
      if (e.id > after) out.push_back(e);
    }
    if (!out.empty() || closed_ || changed_.wait_until(lock, deadline) == std::cv_status::timeout) {
      return out;
    }
  }
}

void EventHub::Loop() {
  std::unique_lock lock(mu_);
  while (!closed_) {
    // Nobody listened for a minute: no reads, and the next listener starts from a fresh snapshot.
    if (std::chrono::steady_clock::now() - listened_ > std::chrono::minutes(1)) {
      have_snapshot_ = false;
      instruments_.Feed(false);
    } else {
      lock.unlock();
      Poll();
      lock.lock();
    }
    changed_.wait_for(lock, interval_, [this] { return closed_ || poll_now_; });
    poll_now_ = false;
  }
}

bool EventHub::AwaitSnapshot(Millis max) {
  std::unique_lock lock(mu_);
  listened_ = std::chrono::steady_clock::now();
  if (!have_snapshot_) {
    poll_now_ = true;
    changed_.notify_all();
  }
  return changed_.wait_for(lock, max, [this] { return have_snapshot_ || closed_; }) && !closed_;
}

void EventHub::Emit(const std::string& type, Json data, SysTime at) {
  ring_.push_back({next_id_++, type, at, std::move(data)});
  if (ring_.size() > kKept) ring_.pop_front();
}

void EventHub::Poll() {
  std::vector<QueueInfo> queues;
  ClusterState cluster;
  Membership members;
  std::vector<AuditEntry> audit;
  instruments_.Feed(true);
  try {
    queues = client_.Queues();
    cluster = client_.Cluster();
    members = client_.Members();
    audit = client_.AuditList(std::nullopt, 100);
  } catch (const Error&) {
    return;  // the database is away: nothing new to say; readyz says why
  }
  std::map<std::string, Json> q;
  for (const auto& info : queues) {
    Json j = ToJson(info);
    j.erase("oldest_available_at");  // moves with every read: not a change
    q[info.name] = j;
  }
  Json c = ToJson(cluster, members);
  c.erase("workers");
  std::set<std::string> ids;
  for (const auto& m : members.members) ids.insert(m.info.id);
  std::string leader = members.Leader() ? members.Leader()->info.id : "";
  int64_t skipped = 0;
  auto changes = instruments_.TakeJobChanges(skipped);
  std::set<int64_t> audit_ids;
  for (const auto& e : audit) audit_ids.insert(e.id);
  std::lock_guard lock(mu_);
  ++reads_;
  if (have_snapshot_) {
    // Control actions: what the API was asked and did, on any server (the audit trail).
    for (auto it = audit.rbegin(); it != audit.rend(); ++it) {
      bool fresh = !audit_seen_.count(it->id) &&
                   (audit_seen_.empty() || it->id > *audit_seen_.begin());
      if (fresh && it->status < 400) {
        Json j = it->ToJson();
        j.erase("error");
        Emit("control", std::move(j));
      }
    }
    for (const auto& c : changes) {
      Emit("job",
           {{"id", c.id},
            {"kind", c.kind},
            {"queue", c.queue},
            {"attempt", c.attempt},
            {"outcome", c.outcome}},
           c.at);
    }
    if (skipped > 0) Emit("jobs_skipped", {{"count", skipped}});
    for (const auto& [name, j] : q) {
      auto it = queues_.find(name);
      if (it == queues_.end() || it->second != j) Emit("queue", j);
    }
    for (const auto& [name, j] : queues_) {
      if (!q.count(name)) Emit("queue", {{"name", name}, {"jobs", Json::object()}});
    }
    if (c["stopped"] != cluster_["stopped"]) Emit("cluster", c);
    for (const auto& id : ids) {
      if (!members_.count(id)) Emit("worker_joined", {{"worker", id}});
    }
    for (const auto& id : members_) {
      if (!ids.count(id)) Emit("worker_left", {{"worker", id}});
    }
    if (leader != leader_)
      Emit("leader", {{"leader", leader.empty() ? Json(nullptr) : Json(leader)}});
    changed_.notify_all();
  }
  have_snapshot_ = true;
  queues_ = std::move(q);
  cluster_ = std::move(c);
  members_ = std::move(ids);
  leader_ = std::move(leader);
  audit_seen_ = std::move(audit_ids);
  changed_.notify_all();
}

}  // namespace spindle::http
