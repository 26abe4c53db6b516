// Bulk changes over a filter, run in the background as operations whose progress can be polled
// (POST /api/v1/jobs/bulk, GET /api/v1/operations/{id}). Kept in this server's memory: the
// latest kKept of them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "spindle/client.h"

namespace spindle::http {

class Operations {
 public:
  static constexpr size_t kKept = 100;

  explicit Operations(Client& client) : client_(client) {}
  // Stops the operations under way after their current page, and waits for them.
  ~Operations();

  // What an operation does, on a thread of its own: it reports how many jobs it will change
  // (total) and has changed so far (changed). Each report throws to end it early when the
  // server stops.
  struct Progress {
    std::function<void(int64_t)> total, changed;
  };
  using Work = std::function<void(const Progress&)>;

  // Starts changing every job of `filter` (Client::ChangeAll); `total` is how many matched when
  // asked. Returns the operation as Get shows it.
  Json Start(Client::BulkAction action, const JobFilter& filter, int64_t total,
             const std::string& who);
  // Starts `work`, shown as `action`.
  Json Start(const std::string& action, int64_t total, const std::string& who, Work work);
  // {"id", "action", "state": running|done|failed|stopped, "total", "changed", "error",
  // "started_at", "finished_at", "by"}. Error(kNotFound) for an unknown id.
  Json Get(const std::string& id) const;
  // The operations this server keeps (its latest kKept, and any still running), newest first.
  Json List() const;

  struct Op;

 private:
  Client& client_;
  mutable std::mutex mu_;
  std::deque<std::shared_ptr<Op>> ops_;
  std::condition_variable ended_;
  int running_ = 0;  // operations under way, under mu_
  std::atomic<bool> stopping_{false};
};

}  // namespace spindle::http
