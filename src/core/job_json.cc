#include "core/job_json.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "core/duration.h"
#include "core/text.h"
#include "core/time.h"
#include "spindle/error.h"

namespace spindle::core {
namespace {

// The value of a spec line's key, of the JSON type `check` accepts.
template <typename T>
T Field(const Json& line, const char* key, bool (Json::*check)() const, const char* type) {
  const Json& v = line.at(key);
  if (!(v.*check)()) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("\"{}\" must be {}, got {}", key, type, v.dump()));
  }
  return v.get<T>();
}

int IntField(const Json& line, const char* key) {
  const Json& v = line.at(key);
  int64_t min = std::numeric_limits<int>::min(), max = std::numeric_limits<int>::max();
  if (!v.is_number_integer() || v.get<double>() < static_cast<double>(min) ||
      v.get<double>() > static_cast<double>(max)) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("\"{}\" must be {}, got {}", key, DescribeRange(min, max), v.dump()));
  }
  return v.get<int>();
}

}  // namespace

Json ParseJson(const std::string& text, const std::string& what) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {  // a syntax error, or a number out of range (1e400)
    // Without the library's "[json.exception.parse_error.101] " prefix.
    std::string why = e.what();
    if (why.rfind("[json.", 0) == 0 && why.find("] ") != std::string::npos) {
      why = why.substr(why.find("] ") + 2);
    }
    throw Error(ErrorCode::kInvalidArgument, fmt::format("{} is not valid JSON: {}", what, why));
  }
}

JobSpec SpecFromJson(const Json& line, const JobSpec& base) {
  JobSpec spec = base;
  if (!line.is_object()) {
    throw Error(ErrorCode::kInvalidArgument, "expected a JSON object, got " + line.dump());
  }
  for (const auto& [key, value] : line.items()) {
    if (key == "args") {
      spec.args = value;
    } else if (key == "kind") {
      spec.kind = Field<std::string>(line, "kind", &Json::is_string, "a string");
    } else if (key == "queue") {
      spec.queue = Field<std::string>(line, "queue", &Json::is_string, "a string");
    } else if (key == "priority") {
      spec.priority = IntField(line, "priority");
    } else if (key == "max_attempts") {
      spec.max_attempts = IntField(line, "max_attempts");
    } else if (key == "run_at") {
      spec.run_at = ParseRfc3339(Field<std::string>(line, "run_at", &Json::is_string, "a string"));
    } else if (key == "deadline") {
      spec.deadline =
          ParseRfc3339(Field<std::string>(line, "deadline", &Json::is_string, "a string"));
    } else if (key == "expires_at") {
      spec.expires_at =
          ParseRfc3339(Field<std::string>(line, "expires_at", &Json::is_string, "a string"));
    } else if (key == "serial_key") {
      spec.serial_key = Field<std::string>(line, "serial_key", &Json::is_string, "a string");
    } else if (key == "timeout") {
      spec.timeout =
          ParseDuration(Field<std::string>(line, "timeout", &Json::is_string, "a string"));
    } else if (key == "unique_key") {
      spec.unique_key = Field<std::string>(line, "unique_key", &Json::is_string, "a string");
    } else if (key == "unique_period") {
      spec.unique_period =
          ParseDuration(Field<std::string>(line, "unique_period", &Json::is_string, "a string"));
    } else if (key == "unique_states") {
      spec.unique_states = ParseStates(
          Field<std::string>(line, "unique_states", &Json::is_string, "a string such as \"a,b\""));
    } else {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("unknown key \"{}\" in a job spec (args, kind, queue, priority, "
                              "max_attempts, run_at, timeout, deadline, expires_at, "
                              "serial_key, unique_key, unique_period, unique_states)",
                              key));
    }
  }
  return spec;
}

std::vector<JobState> ParseStates(const std::string& text) {
  std::vector<JobState> states;
  size_t start = 0;
  for (;;) {
    size_t comma = text.find(',', start);
    std::string name = text.substr(start, comma == std::string::npos ? comma : comma - start);
    auto s = ParseJobState(name);
    if (!s || std::find(std::begin(kStates), std::end(kStates), *s) == std::end(kStates)) {
      std::string valid;
      for (JobState v : kStates) valid += (valid.empty() ? "" : ", ") + std::string(ToString(v));
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("unknown state '{}'; valid states: {} (several: comma-separated)",
                              name, valid));
    }
    states.push_back(*s);
    if (comma == std::string::npos) return states;
    start = comma + 1;
  }
}

}  // namespace spindle::core
