// The one shape of every background loop (producer, completer, listener, lease renewer, rescuer,
// watchdog): Start/Stop are idempotent, the work is one RunOnce() call that tests can also call
// directly, and the loop sleeps between calls until its interval passes or someone Wake()s it.
// A failing RunOnce (database gone) is logged and retried with exponential back-off, so every
// loop survives the database going away and coming back.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "core/log.h"

#include "spindle/error.h"
#include "spindle/job.h"

namespace spindle::runtime {

class LoopService {
 public:
  // run_once returns true when it should run again at once (more work is likely waiting), or
  // after `again_pause` (a loop that yields to others between short transactions).
  LoopService(std::string name, Millis interval, std::function<bool()> run_once,
              Millis again_pause = Millis(0))
      : name_(std::move(name)), interval_(interval), again_pause_(again_pause),
        run_once_(std::move(run_once)) {}
  ~LoopService() { Stop(); }

  void Start() {
    std::lock_guard lock(mu_);
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this] { Loop(); });
  }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (!thread_.joinable()) return;
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  void Wake() {
    {
      std::lock_guard lock(mu_);
      woken_ = true;
    }
    cv_.notify_all();
  }

  // Runs an iteration `after` from now, whatever runs before it: each such time is kept until it
  // comes (an iteration woken earlier by Wake does not stand for it). Times within 2 ms of one
  // already kept are that one.
  void WakeIn(Millis after) {
    {
      std::lock_guard lock(mu_);
      auto at = std::chrono::steady_clock::now() + after;
      auto near = due_.lower_bound(at - Millis(2));
      if (near == due_.end() || *near > at + Millis(2)) due_.insert(at);
    }
    cv_.notify_all();
  }

  // Runs one iteration on the caller's thread. For tests and for final flushes.
  bool RunOnce() { return run_once_(); }

 private:
  void Loop() {
    Millis backoff{0};
    bool again = false;
    while (true) {
      {
        std::unique_lock lock(mu_);
        Millis wait = backoff.count() ? backoff : (again ? again_pause_ : interval_);
        auto until = std::chrono::steady_clock::now() + wait;
        while (!stopping_ && !(woken_ && !backoff.count())) {
          // A WakeIn due before the wait's end ends it then.
          auto deadline = !due_.empty() && !backoff.count() ? std::min(until, *due_.begin()) : until;
          if (std::chrono::steady_clock::now() >= deadline) break;
          cv_.wait_until(lock, deadline);
        }
        if (stopping_) return;
        woken_ = false;
        due_.erase(due_.begin(), due_.upper_bound(std::chrono::steady_clock::now()));
      }
      try {
        again = run_once_();
        if (backoff.count()) core::Log().info("event=recovered service={}", name_);
        backoff = Millis(0);
      } catch (const std::exception& e) {
        backoff = std::min(Millis(5000), backoff.count() ? backoff * 2 : Millis(100));
        core::Log().warn("event=service_error service={} retry_in_ms={} error={}", name_,
                     backoff.count(), core::LogValue(e.what()));
      }
    }
  }

  const std::string name_;
  const Millis interval_;
  const Millis again_pause_;
  const std::function<bool()> run_once_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
  std::set<std::chrono::steady_clock::time_point> due_;  // WakeIn's times still to come
  std::thread thread_;
};

}  // namespace spindle::runtime
