#include "http/instruments.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <utility>

namespace spindle::http {
namespace {

using prometheus::Histogram;

double Seconds(Millis m) { return std::chrono::duration<double>(m).count(); }

// Waits and runs: from a millisecond to an hour.
const Histogram::BucketBoundaries kSlow{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                        2.5,   5,     10,   30,    60,   300, 900,  3600};
// Round trips to the database and HTTP requests.
const Histogram::BucketBoundaries kFast{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const Histogram::BucketBoundaries kBatch{0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};

template <typename Builder>
auto& Build(Builder builder, const char* name, const char* help, prometheus::Registry& r) {
  return builder.Name(name).Help(help).Register(r);
}

}  // namespace

Instruments::Instruments(const WorkerOptions* worker)
    : registry_(std::make_shared<prometheus::Registry>()),
      enqueued_(Build(prometheus::BuildCounter(), "spindle_jobs_enqueued_total",
                      "Jobs this process enqueued, by source: api, schedule, children",
                      *registry_)),
      attempts_(Build(prometheus::BuildCounter(), "spindle_attempts_total",
                      "Attempts this worker ended, by queue, kind and outcome", *registry_)),
      retries_(Build(prometheus::BuildCounter(), "spindle_retries_total",
                     "Failed attempts this worker scheduled a retry for, by queue and kind",
                     *registry_)),
      finalized_(Build(prometheus::BuildCounter(), "spindle_jobs_finalized_total",
                       "Jobs this worker finished for good, by queue, kind and state "
                       "(completed, failed)",
                       *registry_)),
      expired_(Build(prometheus::BuildCounter(), "spindle_jobs_expired_total",
                     "Waiting jobs this worker expired as leader", *registry_)),
      missed_(Build(prometheus::BuildCounter(), "spindle_deadlines_missed_total",
                    "Jobs this worker finished after their deadline, by queue and kind",
                    *registry_)),
      rescues_(Build(prometheus::BuildCounter(), "spindle_rescues_total",
                     "Running jobs this worker rescued as leader, by reason: lease_expired, "
                     "evicted",
                     *registry_)),
      renewals_(Build(prometheus::BuildCounter(), "spindle_lease_renewals_total",
                      "Leases this worker renewed (result=renewed), or found taken from it: "
                      "stopped, cancelled or rescued (result=taken)",
                      *registry_)),
      membership_(Build(prometheus::BuildCounter(), "spindle_membership_changes_total",
                        "Changes of the cluster's membership this worker saw", *registry_)),
      elections_(Build(prometheus::BuildCounter(), "spindle_leader_elections_total",
                       "Times this worker was elected leader", *registry_)),
      wait_(Build(prometheus::BuildHistogram(), "spindle_queue_wait_seconds",
                  "From a job being due to its attempt starting on this worker, by queue and "
                  "attempt (first, retry)",
                  *registry_)),
      run_(Build(prometheus::BuildHistogram(), "spindle_run_duration_seconds",
                 "How long this worker's attempts ran, by queue", *registry_)),
      latency_(Build(prometheus::BuildHistogram(), "spindle_job_latency_seconds",
                     "From enqueue to finishing for good, for jobs this worker finished, by "
                     "queue",
                     *registry_)),
      fetch_(Build(prometheus::BuildHistogram(), "spindle_fetch_duration_seconds",
                   "This worker's fetch round trips, by queue", *registry_)),
      batch_(Build(prometheus::BuildHistogram(), "spindle_fetch_batch_size",
                   "Jobs per fetch of this worker, by queue", *registry_)),
      notified_(Build(prometheus::BuildHistogram(), "spindle_notification_lag_seconds",
                      "From the transaction that announced new jobs beginning to this worker "
                      "hearing of them (PostgreSQL)",
                      *registry_)
                    .Add({}, kFast)),
      busy_(Build(prometheus::BuildGauge(), "spindle_worker_slots_busy",
                  "Jobs this worker runs now, by queue", *registry_)),
      partitions_(Build(prometheus::BuildGauge(), "spindle_worker_partitions_owned",
                        "Partitions this worker fetches from (0: unpartitioned)", *registry_)),
      requests_(Build(prometheus::BuildCounter(), "spindle_http_requests_total",
                      "HTTP requests answered, by method, route and status", *registry_)),
      request_time_(Build(prometheus::BuildHistogram(), "spindle_http_request_duration_seconds",
                          "Time to answer an HTTP request, by route", *registry_)) {
  enqueued_.Add({{"source", "api"}});
  if (!worker) return;
  auto& slots = Build(prometheus::BuildGauge(), "spindle_worker_slots",
                      "Jobs of the queue this worker may run at once", *registry_);
  for (const auto& q : worker->queues) {
    slots.Add({{"queue", q.name}}).Set(q.concurrency);
    busy_.Add({{"queue", q.name}}).Set(0);
  }
  if (worker->slots > 0) {
    Build(prometheus::BuildGauge(), "spindle_worker_slots_budget",
          "Jobs this worker runs at once across its queues (adaptive concurrency)", *registry_)
        .Add({})
        .Set(worker->slots);
  }
  partitions_.Add({}).Set(0);
  for (const char* r : {"renewed", "taken"}) renewals_.Add({{"result", r}});
  for (const char* r : {"lease_expired", "evicted"}) rescues_.Add({{"reason", r}});
  for (auto s : {Source::kSchedule, Source::kChildren}) enqueued_.Add({{"source", ToString(s)}});
  expired_.Add({});
  membership_.Add({});
  elections_.Add({});
}

Instruments::~Instruments() = default;

Instruments::Series& Instruments::For(const Job& job, std::optional<Outcome> outcome, bool final,
                                      bool late) {
  std::lock_guard lock(mu_);
  std::string kind = job.kind;
  if (!kinds_.count(kind)) {
    if (kinds_.size() < kMaxKinds)
      kinds_.insert(kind);
    else
      kind = "other";
  }
  auto& slot = series_[job.queue + '\0' + kind];
  if (!slot) {
    slot = std::make_unique<Series>();
    slot->queue = job.queue;
    slot->wait[0] = &wait_.Add({{"queue", job.queue}, {"attempt", "first"}}, kSlow);
    slot->wait[1] = &wait_.Add({{"queue", job.queue}, {"attempt", "retry"}}, kSlow);
    slot->run = &run_.Add({{"queue", job.queue}}, kSlow);
    slot->latency = &latency_.Add({{"queue", job.queue}}, kSlow);
  }
  Series& s = *slot;
  if (!outcome) return s;
  auto& attempts = s.attempts[static_cast<int>(*outcome)];
  if (!attempts) {
    attempts =
        &attempts_.Add({{"queue", job.queue}, {"kind", kind}, {"outcome", ToString(*outcome)}});
  }
  if (*outcome == Outcome::kRetry && !s.retries) {
    s.retries = &retries_.Add({{"queue", job.queue}, {"kind", kind}});
  }
  if (late && !s.missed) s.missed = &missed_.Add({{"queue", job.queue}, {"kind", kind}});
  bool completed = *outcome == Outcome::kCompleted;
  if (final && !s.finalized[!completed]) {
    s.finalized[!completed] = &finalized_.Add(
        {{"queue", job.queue}, {"kind", kind}, {"state", completed ? "completed" : "failed"}});
  }
  return s;
}

void Instruments::Fetched(const std::string& queue, Millis took, int jobs) {
  fetch_.Add({{"queue", queue}}, kFast).Observe(Seconds(took));
  batch_.Add({{"queue", queue}}, kBatch).Observe(jobs);
}

void Instruments::Feed(bool on) {
  feeding_.store(on, std::memory_order_relaxed);
  if (on) return;
  std::lock_guard lock(feed_mu_);
  changes_.clear();
  skipped_ = 0;
}

void Instruments::Note(const Job& job, const char* outcome) {
  if (!feeding_.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(feed_mu_);
  if (changes_.size() >= kFeedKept) {
    ++skipped_;
    return;
  }
  changes_.push_back(
      {job.id, job.kind, job.queue, job.attempt, outcome, std::chrono::system_clock::now()});
}

std::vector<Instruments::JobChange> Instruments::TakeJobChanges(int64_t& skipped) {
  std::lock_guard lock(feed_mu_);
  skipped = std::exchange(skipped_, 0);
  return std::exchange(changes_, {});
}

void Instruments::Started(const Job& job, Millis waited) {
  Note(job, "started");
  Series& s = For(job);
  s.busy.fetch_add(1, std::memory_order_relaxed);
  s.wait[job.attempt > 1]->Observe(Seconds(std::max(waited, Millis(0))));
}

void Instruments::Ended(const Job& job, Outcome outcome, Millis ran, bool final, bool late) {
  Note(job, ToString(outcome));
  Series& s = For(job, outcome, final, late);
  s.busy.fetch_sub(1, std::memory_order_relaxed);
  s.attempts[static_cast<int>(outcome)]->Increment();
  s.run->Observe(Seconds(ran));
  if (outcome == Outcome::kRetry) s.retries->Increment();
  if (late) s.missed->Increment();
  if (!final) return;
  s.finalized[outcome != Outcome::kCompleted]->Increment();
  auto age = std::chrono::system_clock::now() - job.created_at;
  s.latency->Observe(std::max(0.0, std::chrono::duration<double>(age).count()));
}

void Instruments::Enqueued(Source source, int jobs) {
  enqueued_.Add({{"source", ToString(source)}}).Increment(jobs);
}

void Instruments::EnqueuedByApi(int jobs) { enqueued_.Add({{"source", "api"}}).Increment(jobs); }

void Instruments::Rescued(bool evicted, int jobs) {
  rescues_.Add({{"reason", evicted ? "evicted" : "lease_expired"}}).Increment(jobs);
}

void Instruments::Expired(int jobs) { expired_.Add({}).Increment(jobs); }

void Instruments::LeasesRenewed(int renewed, int taken) {
  renewals_.Add({{"result", "renewed"}}).Increment(renewed);
  renewals_.Add({{"result", "taken"}}).Increment(taken);
}

void Instruments::Notified(Millis lag) { notified_.Observe(Seconds(std::max(lag, Millis(0)))); }

void Instruments::MembershipChanged() { membership_.Add({}).Increment(); }

void Instruments::Elected() { elections_.Add({}).Increment(); }

void Instruments::PartitionsOwned(int partitions) { partitions_.Add({}).Set(partitions); }

void Instruments::Request(const std::string& method, const std::string& route, int status,
                          double seconds) {
  requests_.Add({{"method", method}, {"route", route}, {"status", std::to_string(status)}})
      .Increment();
  request_time_.Add({{"route", route}}, kFast).Observe(seconds);
}

std::vector<prometheus::MetricFamily> Instruments::Collect() {
  {
    std::lock_guard lock(mu_);
    std::map<std::string, int64_t> busy;
    for (const auto& [key, s] : series_) busy[s->queue] += s->busy.load(std::memory_order_relaxed);
    for (const auto& [queue, n] : busy) busy_.Add({{"queue", queue}}).Set(static_cast<double>(n));
  }
  return registry_->Collect();
}

}  // namespace spindle::http
