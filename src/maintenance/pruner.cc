#include "maintenance/pruner.h"

#include <fmt/format.h>

#include "core/log.h"
#include "spindle/error.h"

namespace spindle::maintenance {

Pruner::Pruner(Store& store, const RetentionOptions& options, std::function<bool()> leads)
    : store_(store), options_(options), leads_(std::move(leads)) {
  Validate(options_);
  loop_ = std::make_unique<runtime::LoopService>(
      "pruner", options_.interval,
      [this] { return leads_() && RunOnce() == options_.batch; }, options_.pause);
}

void Pruner::Validate(const RetentionOptions& o) {
  auto fail = [](const std::string& what) {
    throw Error(ErrorCode::kInvalidArgument, "worker options: retention." + what);
  };
  for (auto [name, age] : {std::pair{"completed", o.completed}, {"failed", o.failed},
                           {"cancelled", o.cancelled}, {"expired", o.expired},
                           {"audit", o.audit}}) {
    if (age.count() < 0) fail(fmt::format("{} must be 0 (keep) or more", name));
  }
  if (o.interval < Millis(100)) fail("interval must be at least 100ms");
  if (o.batch < 1 || o.batch > 100000) fail("batch must be 1 to 100000");
  if (o.pause.count() < 0) fail("pause must be 0 or more");
}

int64_t Pruner::RunOnce() {
  int64_t n = store_.JobPrune({.completed = options_.completed,
                               .failed = options_.failed,
                               .cancelled = options_.cancelled,
                               .expired = options_.expired},
                              options_.batch);
  if (n) core::Log().info("event=pruned jobs={}", n);
  int64_t audit = options_.audit.count() ? store_.AuditPrune(options_.audit, options_.batch) : 0;
  if (audit) core::Log().info("event=pruned audit_entries={}", audit);
  return std::max(n, audit);
}

void Pruner::Start() {
  const auto& o = options_;
  if (o.completed.count() || o.failed.count() || o.cancelled.count() || o.expired.count() ||
      o.audit.count()) {
    loop_->Start();
  }
}

void Pruner::Stop() { loop_->Stop(); }

}  // namespace spindle::maintenance
