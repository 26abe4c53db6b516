// What this process measures as it goes, kept between scrapes (docs/metrics.md, "This
// process"): as its worker's observer, the worker's fetches, attempts, rescues, leases and
// membership; and the HTTP server's requests and enqueues. Counters and histograms of
// prometheus-cpp, which take their own locks; labels stay bounded (queues, a capped set of
// kinds, outcomes, route templates).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "spindle/observer.h"
#include "spindle/worker.h"

namespace prometheus {
class Registry;
struct MetricFamily;
template <typename T>
class Family;
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace spindle::http {

class Instruments final : public WorkerObserver {
 public:
  // Kinds named in labels; jobs of kinds beyond them count under kind="other".
  static constexpr size_t kMaxKinds = 200;

  // `worker`: the options of the worker it observes, for its slots; null: no worker.
  explicit Instruments(const WorkerOptions* worker = nullptr);
  ~Instruments() override;

  void Fetched(const std::string& queue, Millis took, int jobs) override;
  void Started(const Job& job, Millis waited) override;
  void Ended(const Job& job, Outcome outcome, Millis ran, bool final, bool late) override;
  void Enqueued(Source source, int jobs) override;
  void Rescued(bool evicted, int jobs) override;
  void Expired(int jobs) override;
  void LeasesRenewed(int renewed, int taken) override;
  void Notified(Millis lag) override;
  void MembershipChanged() override;
  void Elected() override;
  void PartitionsOwned(int partitions) override;

  // The HTTP server's: a request answered (its route's path template, "unmatched" for none),
  // and jobs the API created.
  void Request(const std::string& method, const std::string& route, int status, double seconds);
  void EnqueuedByApi(int jobs);

  std::vector<prometheus::MetricFamily> Collect();

  // The attempts' starts and ends, for the events feed (docs/api.md, "Events"): kept only while
  // the feed asks for them (Feed(true) within its last minute of listeners), at most kFeedKept
  // between two takes (the rest are counted as skipped).
  struct JobChange {
    std::string id, kind, queue;
    int attempt = 0;
    std::string outcome;  // "started", or how the attempt ended (ToString(Outcome))
    SysTime at;
  };
  static constexpr size_t kFeedKept = 1000;
  void Feed(bool on);
  std::vector<JobChange> TakeJobChanges(int64_t& skipped);

 private:
  void Note(const Job& job, const char* outcome);

  std::atomic<bool> feeding_{false};
  std::mutex feed_mu_;
  std::vector<JobChange> changes_;
  int64_t skipped_ = 0;

  // The series of one queue and kind, found once and kept: a job's start and end then cost one
  // lookup under one lock, and atomic increments (prometheus-cpp's own lookups build label maps
  // under its family's lock, several per job).
  struct Series {
    std::string queue;
    std::atomic<int64_t> busy{0};  // its jobs running now; spindle_worker_slots_busy at Collect
    prometheus::Histogram* wait[2] = {};  // first, retry
    prometheus::Histogram* run = nullptr;
    prometheus::Histogram* latency = nullptr;
    prometheus::Counter* attempts[7] = {};  // by Outcome, made when first needed
    prometheus::Counter* retries = nullptr;
    prometheus::Counter* missed = nullptr;
    prometheus::Counter* finalized[2] = {};  // completed, failed
  };
  // The job's series, with those its end needs made (no outcome: at the start).
  Series& For(const Job& job, std::optional<Outcome> outcome = std::nullopt, bool final = false,
              bool late = false);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& enqueued_;
  prometheus::Family<prometheus::Counter>& attempts_;
  prometheus::Family<prometheus::Counter>& retries_;
  prometheus::Family<prometheus::Counter>& finalized_;
  prometheus::Family<prometheus::Counter>& expired_;
  prometheus::Family<prometheus::Counter>& missed_;
  prometheus::Family<prometheus::Counter>& rescues_;
  prometheus::Family<prometheus::Counter>& renewals_;
  prometheus::Family<prometheus::Counter>& membership_;
  prometheus::Family<prometheus::Counter>& elections_;
  prometheus::Family<prometheus::Histogram>& wait_;
  prometheus::Family<prometheus::Histogram>& run_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Histogram>& fetch_;
  prometheus::Family<prometheus::Histogram>& batch_;
  prometheus::Histogram& notified_;
  prometheus::Family<prometheus::Gauge>& busy_;
  prometheus::Family<prometheus::Gauge>& partitions_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& request_time_;
  std::mutex mu_;
  std::set<std::string> kinds_;
  std::unordered_map<std::string, std::unique_ptr<Series>> series_;  // by queue '\0' kind
};

}  // namespace spindle::http
