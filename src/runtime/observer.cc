#include "spindle/observer.h"

namespace spindle {

const char* ToString(WorkerObserver::Outcome outcome) {
  using O = WorkerObserver::Outcome;
  switch (outcome) {
    case O::kCompleted:
      return "completed";
    case O::kRetry:
      return "retry";
    case O::kFailed:
      return "failed";
    case O::kDiscarded:
      return "discarded";
    case O::kSnoozed:
      return "snoozed";
    case O::kWaiting:
      return "waiting";
    case O::kReleased:
      return "released";
  }
  return "?";
}

const char* ToString(WorkerObserver::Source source) {
  return source == WorkerObserver::Source::kSchedule ? "schedule" : "children";
}

}  // namespace spindle
