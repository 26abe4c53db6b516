// A pool of database connections, for any backend. Thread-safe. A connection is used by one
// thread at a time; one found unfit for reuse (broken, or left inside a transaction) is
// dropped instead of returned, and the next Acquire opens a new one.
//
// Conn must provide: static std::unique_ptr<Conn> Connect(const std::string& target) and
// bool Reusable() const.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace spindle {

template <typename Conn>
class Pool {
 public:
  Pool(std::string target, int size) : target_(std::move(target)), size_(size) {}

  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Conn> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) = default;
    ~Lease() {
      if (conn_) pool_->Return(std::move(conn_));
    }
    Conn* operator->() { return conn_.get(); }
    Conn& operator*() { return *conn_; }

   private:
    Pool* pool_;
    std::unique_ptr<Conn> conn_;
  };

  Lease Acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return Lease(this, std::move(c));
      }
    }
    return Lease(this, Conn::Connect(target_));
  }

  const std::string& target() const { return target_; }

 private:
  void Return(std::unique_ptr<Conn> conn) {
    if (!conn->Reusable()) return;
    std::lock_guard lock(mu_);
    if (static_cast<int>(idle_.size()) < size_) idle_.push_back(std::move(conn));
  }

  const std::string target_;
  const int size_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Conn>> idle_;
};

}  // namespace spindle
