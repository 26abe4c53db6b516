// The one exception type the library throws for failures a caller can cause or meet.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace spindle {

enum class ErrorCode {
  kInvalidArgument,    // bad input: malformed JSON, bad URL, bad option value
  kNotFound,           // unknown job id or kind
  kIllegalTransition,  // e.g. cancelling a completed job
  kUnavailable,        // database unreachable or connection lost; retrying may help
  kSchemaTooNew,       // the database was migrated by a newer Spindle
  kInternal,           // a bug or an unexpected database error
};

std::string_view ToString(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace spindle
