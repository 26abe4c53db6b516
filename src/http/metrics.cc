#include "http/metrics.h"

#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "core/job_json.h"

namespace spindle::http {

Metrics::Metrics(Client& client, std::string worker_id, std::shared_ptr<Instruments> instruments)
    : client_(client),
      worker_id_(std::move(worker_id)),
      instruments_(instruments ? std::move(instruments) : std::make_shared<Instruments>()) {}

std::string Metrics::Scrape() {
  prometheus::Registry now;
  auto gauge = [&](const std::string& name, const std::string& help) -> auto& {
    return prometheus::BuildGauge().Name(name).Help(help).Register(now);
  };
  gauge("spindle_build_info", "This server's version and the schema version it knows")
      .Add({{"version", Client::Version()},
            {"schema_version", std::to_string(Client::KnownSchemaVersion())}})
      .Set(1);
  Membership ms = client_.Members();
  const Member* lead = ms.Leader();
  bool leader = lead && lead->info.id == worker_id_;  // this server's worker leads
  if (!worker_id_.empty()) {
    gauge("spindle_leader", "1 when this server's worker is the cluster's leader")
        .Add({})
        .Set(leader);
  }
  if (worker_id_.empty() || leader) {
    int live = 0;
    for (const auto& m : ms.members) live += m.live();
    gauge("spindle_cluster_workers", "Live workers in the cluster").Add({}).Set(live);
    gauge("spindle_cluster_leader_present", "1 when some worker holds the leader term")
        .Add({})
        .Set(lead != nullptr);
    gauge("spindle_cluster_stopped", "1 while the cluster is stopped")
        .Add({})
        .Set(client_.Cluster().stopped_at.has_value());
    auto& jobs = gauge("spindle_jobs", "Jobs by queue and state");
    auto& paused = gauge("spindle_queue_paused", "1 while the queue is paused");
    auto& consumers = gauge("spindle_queue_consumers", "Live workers fetching from the queue");
    auto& oldest = gauge("spindle_queue_oldest_available_age_seconds",
                         "How long the queue's oldest available job has been due (0: none)");
    auto now_time = std::chrono::system_clock::now();
    auto& slots = gauge("spindle_queue_concurrency",
                        "Jobs of the queue its live consumers run at once, in all");
    for (const auto& q : client_.Queues()) {
      // Every state, 0 included: a series that vanishes is not a count that fell to 0.
      for (JobState st : core::kStates) {
        std::string state(ToString(st));
        auto it = q.jobs.find(state);
        jobs.Add({{"queue", q.name}, {"state", state}})
            .Set(it == q.jobs.end() ? 0 : static_cast<double>(it->second));
      }
      paused.Add({{"queue", q.name}}).Set(q.paused_at.has_value());
      consumers.Add({{"queue", q.name}}).Set(q.consumers);
      slots.Add({{"queue", q.name}}).Set(q.concurrency);
      double age = q.oldest_available
                       ? std::chrono::duration<double>(now_time - *q.oldest_available).count()
                       : 0;
      oldest.Add({{"queue", q.name}}).Set(std::max(age, 0.0));
    }
  }
  if (worker_id_.empty() || leader) {
    auto& missed = gauge("spindle_kind_deadlines_missed",
                         "Jobs of the kind that finished after their deadline, since recorded");
    auto& expired = gauge("spindle_kind_expired",
                          "Jobs of the kind that expired before they started, since recorded");
    auto& estimate = gauge("spindle_kind_run_seconds_p90",
                           "The 90th percentile of the kind's run time, as workers measured it");
    // Kinds are few by design; a cap keeps a mistake from flooding Prometheus.
    constexpr size_t kMaxKinds = 200;
    auto kinds = client_.KindStats();
    for (size_t i = 0; i < kinds.size() && i < kMaxKinds; ++i) {
      const auto& k = kinds[i];
      missed.Add({{"kind", k.kind}}).Set(static_cast<double>(k.missed));
      expired.Add({{"kind", k.kind}}).Set(static_cast<double>(k.expired));
      if (k.estimate) {
        estimate.Add({{"kind", k.kind}}).Set(std::chrono::duration<double>(*k.estimate).count());
      }
    }
  }
  auto families = now.Collect();
  for (auto& f : instruments_->Collect()) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace spindle::http
