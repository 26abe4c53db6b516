#include "core/error.h"

namespace spindle::core {

const ErrorTraits& Traits(ErrorCode code) {
  static constexpr ErrorTraits kInvalid{"invalid_argument", 2, 400, "bad_request"};
  static constexpr ErrorTraits kNotFound{"not_found", 3, 404, "not_found"};
  static constexpr ErrorTraits kIllegal{"illegal_transition", 4, 409, "conflict"};
  static constexpr ErrorTraits kUnavailable{"unavailable", 5, 503, "unavailable"};
  static constexpr ErrorTraits kTooNew{"schema_too_new", 6, 500, "schema_too_new"};
  static constexpr ErrorTraits kInternal{"internal", 1, 500, "internal"};
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return kInvalid;
    case ErrorCode::kNotFound:
      return kNotFound;
    case ErrorCode::kIllegalTransition:
      return kIllegal;
    case ErrorCode::kUnavailable:
      return kUnavailable;
    case ErrorCode::kSchemaTooNew:
      return kTooNew;
    case ErrorCode::kInternal:
      return kInternal;
  }
  return kInternal;
}

}  // namespace spindle::core

std::string_view spindle::ToString(ErrorCode code) { return core::Traits(code).name; }
