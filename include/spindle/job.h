// Jobs as the engine stores them, and the parameters for creating them.
//
// Plain value types: copyable, no I/O, safe to share between threads once built.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace spindle {

using Json = nlohmann::json;
using SysTime = std::chrono::system_clock::time_point;
using Millis = std::chrono::milliseconds;

// The lifecycle of a job. See docs/architecture.md for the diagram.
enum class JobState {
  kScheduled,  // run_at in the future at enqueue time
  kAvailable,  // ready to be fetched
  kRunning,    // leased to one worker
  kRetryable,  // failed an attempt; waits for run_at (back-off) to run again
  kCompleted,
  kFailed,     // attempts exhausted or discarded
  kCancelled,
  kStopped,    // stopped by a person; stays so until resumed
  kWaiting,    // waits for its children to finish (docs/jobs.md)
  kExpired,    // firm deadline missed, never run
};

std::string_view ToString(JobState s);
// Parses a state name ("available", ...). Returns nullopt for an unknown name.
std::optional<JobState> ParseJobState(std::string_view name);
// True when the state is final: the job will not run again unless a person retries it.
bool IsFinal(JobState s);

// One recorded failure of an attempt.
struct JobError {
  int attempt = 0;
  SysTime at;
  std::string message;
  Json ToJson() const;
};

// A job as stored.
struct Job {
  std::string id;  // UUIDv7, text form
  std::string kind;
  std::string queue;
  Json args = Json::object();
  int priority = 0;  // lower runs first
  SysTime run_at;
  JobState state = JobState::kAvailable;
  // Every run: the number of times it has been fetched. It only grows, which makes (id, attempt)
  // the fencing token of a run.
  int attempt = 0;
  int max_attempts = 0;  // as enqueued (a person's retry of a job that used them all adds one)
  // The attempts that count toward max_attempts, the running one included: a nap, a hand-back,
  // a person's stop, a wait for children and a cluster stop do not count.
  int attempts_used = 0;
  std::optional<Millis> timeout;  // nullopt: the worker's default for the kind
  std::vector<JobError> errors;
  SysTime created_at;
  std::optional<SysTime> started_at;
  std::optional<SysTime> finished_at;
  std::string lease_owner;  // empty when not leased
  std::optional<SysTime> lease_expires_at;
  // Multi-step kinds (Worker::RegisterSteps): the step to run next, and the checkpoint saved
  // with the last finished step. Empty and null before the first.
  std::string step;
  Json checkpoint;
  // Children (docs/jobs.md): the job that enqueued this one (empty: none); how many children
  // this job enqueued, and how many of them have not finished.
  std::string parent_id;
  int children_total = 0;
  int children_pending = 0;
  // The latest progress its handler reported ({"fraction": 0..1, "message": "..."}; null: none),
  // cleared when it completes; and the result it completed with (null: none).
  Json progress;
  Json result;

  Json ToJson() const;
};

// One entry of a job's history (Client::History): a state it entered, or "step" (a running job
// moved to the step named in `detail`), or "enqueued".
struct JobEvent {
  SysTime at;
  std::string type;
  std::string detail;  // why: the error, "nap in step S", "resumed", "children finished", ...

  Json ToJson() const;
};

// How many entries a job's history keeps (the newest).
inline constexpr size_t kHistoryLimit = 50;

// The largest args accepted, as serialized JSON.
inline constexpr size_t kMaxArgsBytes = 1 << 20;

// What to enqueue. Defaults are the engine's defaults.
struct JobSpec {
  std::string kind;               // required
  Json args = Json::object();     // must be a JSON object
  std::string queue = "default";  // Default: "default"
  int priority = 0;               // Default: 0; lower runs first
  // Default: now. A time in the future makes the job `scheduled`.
  std::optional<SysTime> run_at;
  int max_attempts = 25;          // Default: 25 (as Oban/River)
  std::optional<Millis> timeout;  // Default: the worker's default for the kind

  // Checks the spec; throws spindle::Error(kInvalidArgument) with a clear message.
  void Validate() const;
};

// Filters for listing jobs. Empty fields do not filter.
struct JobFilter {
  std::optional<JobState> state;
  std::string queue;
  std::string kind;
  std::string parent_id;  // the children of this job
  int limit = 100;  // Default: 100; newest first
};

}  // namespace spindle
