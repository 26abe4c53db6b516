#include "http/series.h"

#include <algorithm>

#include "core/log.h"
#include "core/time.h"
#include "spindle/error.h"

namespace spindle::http {

StatsSeries::StatsSeries(Client& client, Millis interval, size_t kept)
    : client_(client), interval_(interval), kept_(std::max<size_t>(kept, 1)) {}

StatsSeries::~StatsSeries() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StatsSeries::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      Record(std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now()));
      lock.lock();
      stop_.wait_for(lock, interval_, [this] { return stopping_; });
    }
  });
}

namespace {

// The 95th percentile (nearest rank); nullopt when empty.
std::optional<Millis> Percentile95(std::vector<Millis> v) {
  if (v.empty()) return std::nullopt;
  size_t rank = (v.size() * 95 + 99) / 100;  // ceil(0.95 n), at least 1
  std::nth_element(v.begin(), v.begin() + static_cast<long>(rank - 1), v.end());
  return v[rank - 1];
}

}  // namespace

std::pair<std::optional<Millis>, std::optional<Millis>> StatsSeries::LatestTimes(
    const std::string& queue) {
  std::vector<Millis> waits, runs;
  try {
    for (const auto& job : client_.List({.states = {JobState::kCompleted},
                                         .queue = queue,
                                         .limit = StatsSample::kLatest})) {
      if (!job.started_at || !job.finished_at) continue;
      auto ms = [](auto d) { return std::max(Millis(0), std::chrono::duration_cast<Millis>(d)); };
      waits.push_back(ms(*job.started_at - job.run_at));
      runs.push_back(ms(*job.finished_at - *job.started_at));
    }
  } catch (const Error& e) {
    core::Log().warn("event=stats_sample_failed queue={} error={}", queue, e.what());
  }
  return {Percentile95(std::move(waits)), Percentile95(std::move(runs))};
}

bool StatsSeries::Record(SysTime now) {
  std::vector<QueueInfo> queues;
  std::vector<KindRunStats> kinds;
  std::vector<Job> at_risk;
  try {
    queues = client_.Queues();
    kinds = client_.KindStats();
    at_risk = client_.List({.at_risk = true, .limit = StatsSample::kAtRiskCap});
  } catch (const Error& e) {
    core::Log().warn("event=stats_sample_failed error={}", e.what());
    return false;
  }
  StatsSample s{.at = now};
  for (const auto& job : at_risk) ++s.queues[job.queue].at_risk;
  const StatsSample* before = nullptr;
  {
    std::lock_guard lock(mu_);
    if (!samples_.empty()) before = &samples_.back();  // only Record appends or drops samples
  }
  for (const auto& q : queues) {
    auto& out = s.queues[q.name];
    auto completed = [](const auto& jobs) {
      auto it = jobs.find("completed");
      return it == jobs.end() ? int64_t{0} : it->second;
    };
    const StatsSample::Queue* was = nullptr;
    if (before && before->queues.count(q.name)) was = &before->queues.at(q.name);
    if (was && completed(was->jobs) == completed(q.jobs)) {
      out.wait_p95 = was->wait_p95;
      out.run_p95 = was->run_p95;
    } else if (completed(q.jobs) > 0) {
      std::tie(out.wait_p95, out.run_p95) = LatestTimes(q.name);
    }
    out.jobs = q.jobs;
    if (q.oldest_available) {
      out.oldest_available_age = std::max(
          Millis(0), std::chrono::duration_cast<Millis>(now - *q.oldest_available));
    }
    out.consumers = q.consumers;
    out.paused = q.paused_at.has_value();
  }
  std::map<std::string, KindRunStats> read;
  for (auto& k : kinds) read[k.kind] = std::move(k);
  std::lock_guard lock(mu_);
  // The first read only gives the counts to differ from; a count that went down (the kind's
  // stats were reset) starts over from it.
  if (last_kinds_) {
    for (const auto& [name, k] : read) {
      auto it = last_kinds_->find(name);
      const KindRunStats before = it != last_kinds_->end() ? it->second : KindRunStats{};
      StatsSample::Kind d{std::max<int64_t>(0, k.samples - before.samples),
                          std::max<int64_t>(0, k.missed - before.missed),
                          std::max<int64_t>(0, k.expired - before.expired)};
      if (d.completed || d.missed || d.expired) s.kinds[name] = d;
    }
  }
  last_kinds_ = std::move(read);
  samples_.push_back(std::move(s));
  if (samples_.size() > kept_) samples_.pop_front();
  return true;
}

Json StatsSeries::ToJson(std::optional<SysTime> since, const std::string& queue) {
  std::lock_guard lock(mu_);
  Json samples = Json::array();
  for (const auto& s : samples_) {
    if (since && s.at < *since) continue;
    Json queues = Json::object();
    std::map<std::string, int64_t> totals;
    for (const auto& [name, q] : s.queues) {
      for (const auto& [state, n] : q.jobs) totals[state] += n;
      if (!queue.empty() && name != queue) continue;
      queues[name] = {{"jobs", q.jobs},
                      {"oldest_available_age_ms", q.oldest_available_age
                                                      ? Json(q.oldest_available_age->count())
                                                      : Json(nullptr)},
                      {"consumers", q.consumers},
                      {"paused", q.paused},
                      {"wait_p95_ms", q.wait_p95 ? Json(q.wait_p95->count()) : Json(nullptr)},
                      {"run_p95_ms", q.run_p95 ? Json(q.run_p95->count()) : Json(nullptr)},
                      {"at_risk", q.at_risk}};
    }
    Json kinds = Json::object();
    for (const auto& [name, k] : s.kinds) {
      kinds[name] = {{"completed", k.completed}, {"missed", k.missed}, {"expired", k.expired}};
    }
    samples.push_back({{"at", core::FormatRfc3339(s.at)},
                       {"jobs", totals},
                       {"queues", queues},
                       {"kinds", kinds}});
  }
  return {{"interval_ms", interval_.count()}, {"kept", kept_}, {"samples", samples}};
}

}  // namespace spindle::http
