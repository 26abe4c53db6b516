// The seam to time. Thread-safe.
//
// The database is the authority for time shared between hosts (run_at, lease expiry): with the
// SystemClock the store lets the database's now() decide. A test pins time with a FakeClock; the
// store then passes that time into every query instead.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>

namespace spindle {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point Now() const = 0;
  // The time to hand to the database, or nullopt to let the database use its own clock.
  virtual std::optional<std::chrono::system_clock::time_point> Pinned() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
  std::optional<std::chrono::system_clock::time_point> Pinned() const override {
    return std::nullopt;
  }
};

// A clock that only moves when told to. For tests.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::chrono::system_clock::time_point start = std::chrono::system_clock::now())
      : micros_(ToMicros(start)) {}
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(std::chrono::microseconds(micros_.load()));
  }
  std::optional<std::chrono::system_clock::time_point> Pinned() const override { return Now(); }
  void Advance(std::chrono::microseconds d) { micros_ += d.count(); }

 private:
  static int64_t ToMicros(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  }
  std::atomic<int64_t> micros_;
};

}  // namespace spindle
