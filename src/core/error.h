// What each ErrorCode means to the outside: the CLI's exit code and the HTTP API's status, from
// one table so that they cannot drift apart (docs/api.md, "Errors").
#pragma once

#include <string_view>

#include "spindle/error.h"

namespace spindle::core {

struct ErrorTraits {
  std::string_view name;   // ToString(code): "not_found", ...
  int exit_code;           // the `spindle` command's exit status
  int http_status;         // the API's response status
  std::string_view error;  // the API's "error" field: "bad_request", "not_found", "conflict", ...
};

const ErrorTraits& Traits(ErrorCode code);

}  // namespace spindle::core
