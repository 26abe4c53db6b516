#include <algorithm>
#include <array>
#include <utility>

#include <fmt/chrono.h>

#include "core/text.h"
#include "core/time.h"
#include "spindle/error.h"
#include "spindle/cluster.h"
#include "spindle/job.h"

namespace spindle {
namespace {

constexpr std::array<std::pair<JobState, std::string_view>, 10> kStateNames{{
    {JobState::kScheduled, "scheduled"},
    {JobState::kAvailable, "available"},
    {JobState::kRunning, "running"},
    {JobState::kRetryable, "retryable"},
    {JobState::kCompleted, "completed"},
    {JobState::kFailed, "failed"},
    {JobState::kCancelled, "cancelled"},
    {JobState::kStopped, "stopped"},
    {JobState::kExpired, "expired"},
    {JobState::kWaiting, "waiting"},
}};


}  // namespace

std::string_view ToString(JobState s) {
  for (auto [state, name] : kStateNames) {
    if (state == s) return name;
  }
  return "unknown";
}

std::optional<JobState> ParseJobState(std::string_view name) {
  for (auto [state, n] : kStateNames) {
    if (n == name) return state;
  }
  return std::nullopt;
}

bool IsFinal(JobState s) {
  return s == JobState::kCompleted || s == JobState::kFailed || s == JobState::kCancelled ||
         s == JobState::kExpired;
}

Json JobError::ToJson() const {
  return {{"attempt", attempt}, {"at", core::FormatRfc3339(at)}, {"error", message}};
}

Json JobEvent::ToJson() const { return {{"at", core::FormatRfc3339(at)}, {"type", type}, {"detail", detail}}; }

Json Job::ToJson() const {
  Json errs = Json::array();
  for (const auto& e : errors) errs.push_back(e.ToJson());
  return {
      {"id", id},
      {"kind", kind},
      {"queue", queue},
      {"args", args},
      {"priority", priority},
      {"run_at", core::FormatRfc3339(run_at)},
      {"state", ToString(state)},
      {"attempt", attempt},
      {"max_attempts", max_attempts},
      {"attempts_used", attempts_used},
      {"timeout_ms", timeout ? Json(timeout->count()) : Json(nullptr)},
      {"errors", errs},
      {"created_at", core::FormatRfc3339(created_at)},
      {"started_at", core::Rfc3339OrNull(started_at)},
      {"finished_at", core::Rfc3339OrNull(finished_at)},
      {"lease_owner", lease_owner.empty() ? Json(nullptr) : Json(lease_owner)},
      {"lease_expires_at", core::Rfc3339OrNull(lease_expires_at)},
      {"step", step.empty() ? Json(nullptr) : Json(step)},
      {"checkpoint", checkpoint},
      {"parent_id", parent_id.empty() ? Json(nullptr) : Json(parent_id)},
      {"children_total", children_total},
      {"children_pending", children_pending},
      {"progress", progress},
      {"result", result},
      {"deadline", core::Rfc3339OrNull(deadline)},
      {"expires_at", core::Rfc3339OrNull(expires_at)},
      {"missed_by_ms", MissedBy() ? Json(MissedBy()->count()) : Json(nullptr)},
      {"serial_key", serial_key.empty() ? Json(nullptr) : Json(serial_key)},
      {"serial_held", serial_held},
      {"unique_key", unique_key.empty() ? Json(nullptr) : Json(unique_key)},
      {"waits_for", waits_for.empty() ? Json(nullptr) : Json(waits_for)},
      {"tenant", tenant ? Json(*tenant) : Json(nullptr)},
  };
}

std::optional<Millis> Job::MissedBy() const {
  // An expired job never ran: it missed its start, which `expired` already says.
  if (!deadline || !finished_at || *finished_at <= *deadline || state == JobState::kExpired) {
    return std::nullopt;
  }
  return std::chrono::duration_cast<Millis>(*finished_at - *deadline);
}

bool Job::AtRisk(std::optional<Millis> estimate, SysTime now) const {
  bool waits = state == JobState::kScheduled || state == JobState::kAvailable ||
               state == JobState::kRetryable;
  return waits && deadline && *deadline - estimate.value_or(Millis(0)) <= now;
}

Json KindRunStats::ToJson() const {
  return {{"kind", kind},
          {"estimate_ms", estimate ? Json(estimate->count()) : Json(nullptr)},
          {"samples", samples},
          {"missed", missed},
          {"expired", expired},
          {"updated_at", core::FormatRfc3339(updated_at)}};
}

Json AuditEntry::ToJson() const {
  return {{"id", std::to_string(id)},
          {"at", core::Rfc3339OrNull(at)},
          {"who", who},
          {"method", method},
          {"path", path},
          {"status", status},
          {"error", error.empty() ? Json(nullptr) : Json(error)}};
}

std::string_view ToString(QueueOrder order) {
  return order == QueueOrder::kDeadline ? "deadline" : "fifo";
}

std::optional<QueueOrder> ParseQueueOrder(std::string_view name) {
  if (name == "fifo") return QueueOrder::kFifo;
  if (name == "deadline") return QueueOrder::kDeadline;
  return std::nullopt;
}

void QueueSettings::Validate(std::string_view queue) const {
  auto fail = [&](const std::string& why) {
    throw Error(ErrorCode::kInvalidArgument, fmt::format("queue '{}': {}", queue, why));
  };
  if (!fair_key) {
    if (!fair_weights.empty()) fail("fair_weights need a fair_key");
    return;
  }
  if (!core::IsArgsPath(*fair_key)) {
    fail(fmt::format("fair_key \"{}\" must be a path into the job's args such as "
                     "\"customer_id\" or \"account.id\" (at most 200 characters)",
                     *fair_key));
  }
  if (order == QueueOrder::kDeadline) {
    fail("a queue is fair (fair_key) or in deadline order, not both");
  }
  for (const auto& [tenant, w] : fair_weights) {
    if (tenant.empty() || tenant.size() > 255) fail("a weighted tenant needs a name of 1 to 255 bytes");
    if (!(w >= 0.001 && w <= 1000)) {
      fail(fmt::format("tenant '{}' has weight {}; a weight must be 0.001 to 1000", tenant, w));
    }
  }
}

std::string_view ToString(SerialPolicy p) {
  return p == SerialPolicy::kContinue ? "continue" : "block";
}

std::optional<SerialPolicy> ParseSerialPolicy(std::string_view name) {
  if (name == "block") return SerialPolicy::kBlock;
  if (name == "continue") return SerialPolicy::kContinue;
  return std::nullopt;
}

namespace {

Error Invalid(const std::string& msg) { return Error(ErrorCode::kInvalidArgument, msg); }

// Names are shown in tables and typed in commands: 1 to 255 characters, not blank, no control
// characters.
void CheckName(const std::string& text, const std::string& what) {
  if (text.empty() || text.size() > 255) throw Invalid(what + " must be 1 to 255 characters");
  if (text.find_first_not_of(" \t\n\r\v\f") == std::string::npos) {
    throw Invalid(what + " must not be blank");
  }
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) throw Invalid(what + " must not contain control characters");
  }
}

void CheckQueue(const std::optional<std::string>& queue, const std::string& what) {
  if (queue) CheckName(*queue, what + "queue name");
}

}  // namespace

void JobSpec::Validate() const {
  CheckName(kind, "job kind");
  CheckQueue(queue, "");
  if (!args.is_object()) throw Invalid("job args must be a JSON object, got " + args.dump());
  if (max_attempts && *max_attempts < 1) throw Invalid("max_attempts must be at least 1");
  if (timeout && timeout->count() <= 0) throw Invalid("timeout must be positive");
  if (expires_at && run_at && *expires_at <= *run_at) {
    throw Invalid("expires_at " + core::FormatRfc3339(*expires_at) + " is not after run_at " +
                  core::FormatRfc3339(*run_at) + ": the job would never run");
  }
  if (serial_key) CheckName(*serial_key, "serial key");
  if (unique_key) {
    if (unique_key->empty() || unique_key->size() > kMaxUniqueKeyBytes ||
        unique_key->find('\0') != std::string::npos) {
      throw Invalid(fmt::format("unique_key must be 1 to {} bytes without NUL", kMaxUniqueKeyBytes));
    }
  } else if (unique_period || !unique_states.empty()) {
    throw Invalid("unique_period and unique_states need a unique_key");
  }
  if (unique_period && unique_period->count() <= 0) throw Invalid("unique_period must be positive");
  if (!unique_states.empty()) {
    for (JobState required : kRequiredUniqueStates) {
      if (std::find(unique_states.begin(), unique_states.end(), required) == unique_states.end()) {
        throw Invalid(fmt::format(
            "unique_states must include scheduled, available, running, retryable and waiting "
            "(a job moves between them on its own); {} is missing",
            ToString(required)));
      }
    }
  }
}

void KindDefaults::Validate(const std::string& kind) const {
  CheckName(kind, "job kind");
  std::string at = "kind '" + kind + "': ";
  CheckQueue(queue, at);
  if (max_attempts && *max_attempts < 1) throw Invalid(at + "max_attempts must be at least 1");
  if (timeout && timeout->count() <= 0) throw Invalid(at + "timeout must be positive");
}

Json KindDefaults::ToJson() const {
  auto opt = [](const auto& v) { return v ? Json(*v) : Json(nullptr); };
  return {{"queue", opt(queue)},
          {"priority", opt(priority)},
          {"max_attempts", opt(max_attempts)},
          {"timeout_ms", timeout ? Json(timeout->count()) : Json(nullptr)},
          {"serial", serial ? Json(ToString(*serial)) : Json(nullptr)}};
}

Json KindInfo::ToJson() const {
  Json j = defaults.ToJson();
  j["kind"] = kind;
  j["worker"] = worker;
  j["registered_at"] = core::FormatRfc3339(registered_at);
  return j;
}

}  // namespace spindle
