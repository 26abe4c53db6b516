// The stats' time series (docs/api.md, "Stats"): a sample of the cluster every interval, kept in
// this server's memory, so that a dashboard draws the last hours without Prometheus. One read of
// the database per interval (the queues and the kinds), whatever the number of clients.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "spindle/client.h"

namespace spindle::http {

struct StatsSample {
  struct Queue {
    std::map<std::string, int64_t> jobs;  // by state
    std::optional<Millis> oldest_available_age;
    int consumers = 0;
    bool paused = false;
    // The 95th percentiles of how long the queue's latest kLatest completed jobs waited (from
    // their run_at to their start) and ran; read again only when its completed count moved.
    std::optional<Millis> wait_p95, run_p95;
    // Waiting jobs at risk of missing their deadline (JobFilter::at_risk), up to kAtRiskCap
    // across the cluster.
    int64_t at_risk = 0;
  };
  static constexpr int kAtRiskCap = 1000;
  static constexpr int kLatest = 100;
  // What a kind's workers reported since the sample before (their run-time flushes, every
  // stats_interval of theirs): jobs completed, finished after their deadline, expired.
  struct Kind {
    int64_t completed = 0;
    int64_t missed = 0;
    int64_t expired = 0;
  };
  SysTime at;
  std::map<std::string, Queue> queues;
  std::map<std::string, Kind> kinds;  // only kinds with something to report
};

class StatsSeries {
 public:
  // Keeps the last `kept` samples, one every `interval` once started.
  StatsSeries(Client& client, Millis interval, size_t kept);
  ~StatsSeries();

  // Samples on a thread of its own every interval until destroyed. Idempotent.
  void Start();
  // Reads the cluster once and appends the sample taken at `now`. False when the database could
  // not be read: nothing is appended, and the next sample's kinds count from the last read.
  bool Record(SysTime now);
  // The samples taken at or after `since` (all: nullopt), oldest first, with only `queue`'s
  // (every queue: empty).
  Json ToJson(std::optional<SysTime> since, const std::string& queue);

 private:
  // The 95th percentiles of the wait and run times of `queue`'s latest completed jobs.
  std::pair<std::optional<Millis>, std::optional<Millis>> LatestTimes(const std::string& queue);

  Client& client_;
  Millis interval_;
  size_t kept_;
  std::mutex mu_;
  std::condition_variable stop_;
  bool stopping_ = false;
  std::deque<StatsSample> samples_;
  // Each kind's counts as last read (they only grow), for the next sample's differences.
  std::optional<std::map<std::string, KindRunStats>> last_kinds_;
  std::thread thread_;
};

}  // namespace spindle::http
