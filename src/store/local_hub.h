// In-process notifications ("new jobs in queue Q", "the membership changed", "worker W: a job
// you run was stopped or cancelled"), for backends that cannot notify other processes (SQLite).
// Every store opened on the same database in this process shares one hub, so a Client's enqueue
// wakes a Worker of the same process directly. Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/store.h"

namespace spindle {

class LocalHub : public std::enable_shared_from_this<LocalHub> {
 public:
  // The hub of a database, by a key that names it (a canonical file path).
  static std::shared_ptr<LocalHub> For(const std::string& key);

  void Notify(const Notices& notices);
  std::unique_ptr<StoreListener> Listen();

  struct Subscriber;

 private:
  std::mutex mu_;
  std::vector<std::weak_ptr<Subscriber>> subscribers_;
};

}  // namespace spindle
