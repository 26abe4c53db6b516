#include <array>
#include <utility>

#include <fmt/chrono.h>

#include "core/time.h"
#include "spindle/error.h"
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

Json OptionalTime(const std::optional<SysTime>& t) { return t ? Json(core::FormatRfc3339(*t)) : Json(nullptr); }

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

std::string_view ToString(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kIllegalTransition: return "illegal_transition";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kSchemaTooNew: return "schema_too_new";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
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
      {"started_at", OptionalTime(started_at)},
      {"finished_at", OptionalTime(finished_at)},
      {"lease_owner", lease_owner.empty() ? Json(nullptr) : Json(lease_owner)},
      {"lease_expires_at", OptionalTime(lease_expires_at)},
      {"step", step.empty() ? Json(nullptr) : Json(step)},
      {"checkpoint", checkpoint},
      {"parent_id", parent_id.empty() ? Json(nullptr) : Json(parent_id)},
      {"children_total", children_total},
      {"children_pending", children_pending},
      {"progress", progress},
      {"result", result},
  };
}

void JobSpec::Validate() const {
  auto invalid = [](const std::string& msg) { return Error(ErrorCode::kInvalidArgument, msg); };
  if (kind.empty() || kind.size() > 255) throw invalid("job kind must be 1 to 255 characters");
  if (queue.empty() || queue.size() > 255) throw invalid("queue name must be 1 to 255 characters");
  if (!args.is_object()) throw invalid("job args must be a JSON object, got " + args.dump());
  if (max_attempts < 1) throw invalid("max_attempts must be at least 1");
  if (timeout && timeout->count() <= 0) throw invalid("timeout must be positive");
}

}  // namespace spindle
