#include "cli/input.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>

#include <fmt/format.h>

#include "cli/bulk.h"
#include "core/duration.h"
#include "core/time.h"
#include "spindle/error.h"

namespace spindle::cli {
namespace {

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

// The value of a spec line's key, of the JSON type `check` accepts.
template <typename T>
T Field(const Json& line, const char* key, bool (Json::*check)() const, const char* type) {
  const Json& v = line.at(key);
  if (!(v.*check)()) {
    throw Error(ErrorCode::kInvalidArgument, fmt::format("\"{}\" must be {}, got {}", key, type, v.dump()));
  }
  return v.get<T>();
}

int IntField(const Json& line, const char* key) {
  const Json& v = line.at(key);
  int64_t min = std::numeric_limits<int>::min(), max = std::numeric_limits<int>::max();
  if (!v.is_number_integer() || v.get<double>() < static_cast<double>(min) ||
      v.get<double>() > static_cast<double>(max)) {
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("\"{}\" must be {}, got {}", key, core::DescribeRange(min, max), v.dump()));
  }
  return v.get<int>();
}

JobSpec SpecOf(const Json& line, const JobSpec& base) {
  JobSpec spec = base;
  if (!line.is_object()) {
    throw Error(ErrorCode::kInvalidArgument, "expected a JSON object, got " + line.dump());
  }
  if (!line.contains("args")) {
    spec.args = line;
    return spec;
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
      spec.run_at = core::ParseRfc3339(Field<std::string>(line, "run_at", &Json::is_string, "a string"));
    } else if (key == "serial_key") {
      spec.serial_key = Field<std::string>(line, "serial_key", &Json::is_string, "a string");
    } else if (key == "timeout") {
      spec.timeout = core::ParseDuration(Field<std::string>(line, "timeout", &Json::is_string, "a string"));
    } else if (key == "unique_key") {
      spec.unique_key = Field<std::string>(line, "unique_key", &Json::is_string, "a string");
    } else if (key == "unique_period") {
      spec.unique_period =
          core::ParseDuration(Field<std::string>(line, "unique_period", &Json::is_string, "a string"));
    } else if (key == "unique_states") {
      spec.unique_states = ParseStates(
          Field<std::string>(line, "unique_states", &Json::is_string, "a string such as \"a,b\""));
    } else {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("unknown key \"{}\" in a job spec (args, kind, queue, priority, "
                              "max_attempts, run_at, timeout, serial_key, unique_key, "
                              "unique_period, unique_states)", key));
    }
  }
  return spec;
}

}  // namespace

Json ReadArgs(const std::string& value) {
  if (value == "-") {
    return ParseJson(std::string(std::istreambuf_iterator<char>(std::cin), {}), "--args from stdin");
  }
  if (!value.empty() && value[0] == '@') {
    std::string path = value.substr(1);
    if (std::filesystem::is_directory(path)) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("--args {}: '{}' is a directory, not a JSON file", value, path));
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("--args {}: cannot read '{}': {}", value, path, std::strerror(errno)));
    }
    return ParseJson(std::string(std::istreambuf_iterator<char>(in), {}), "--args " + value);
  }
  return ParseJson(value, "--args");
}

std::vector<JobSpec> ReadBatch(std::istream& in, const JobSpec& base) {
  std::vector<JobSpec> specs;
  std::string text;
  for (int n = 1; std::getline(in, text); ++n) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      JobSpec spec = SpecOf(ParseJson(text, "it"), base);
      spec.Validate();
      specs.push_back(std::move(spec));
    } catch (const Error& e) {
      throw Error(ErrorCode::kInvalidArgument, fmt::format("line {}: {}", n, e.what()));
    } catch (const Json::exception& e) {  // a number that does not fit an int
      throw Error(ErrorCode::kInvalidArgument, fmt::format("line {}: {}", n, e.what()));
    }
  }
  return specs;
}

void InsertBatch(Client& client, const std::vector<JobSpec>& specs, size_t batch_size, bool json) {
  auto start = std::chrono::steady_clock::now();
  bool terminal = isatty(STDERR_FILENO) != 0;
  size_t done = 0, existing = 0;  // existing: a job already held the spec's unique key
  try {
    for (size_t i = 0; i < specs.size(); i += batch_size) {
      std::vector<JobSpec> chunk(specs.begin() + static_cast<ptrdiff_t>(i),
                                 specs.begin() + static_cast<ptrdiff_t>(std::min(i + batch_size, specs.size())));
      for (const auto& r : client.InsertMany(chunk)) {
        ++done;
        existing += r.existing;
      }
      if (terminal) std::cerr << fmt::format("\renqueued {} of {}", done, specs.size()) << std::flush;
    }
  } catch (const Error& e) {
    if (terminal) std::cerr << "\n";
    throw Error(e.code(), fmt::format("{} ({} of {} jobs were enqueued before it)", e.what(), done,
                                      specs.size()));
  }
  if (terminal) std::cerr << "\n";
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // New jobs per second: lines whose unique key a job already held made no job.
  double rate = seconds > 0 ? static_cast<double>(done - existing) / seconds : 0;
  if (json) {
    std::cout << Json{{"enqueued", done - existing}, {"existing", existing}, {"seconds", seconds},
                      {"jobs_per_second", rate}}
                     .dump()
              << "\n";
  } else {
    std::cout << fmt::format("enqueued {} job{} in {} ({:.0f} jobs/s)", done - existing,
                             done - existing == 1 ? "" : "s",
                             core::FormatElapsed(std::chrono::duration_cast<Millis>(
                                 std::chrono::duration<double>(seconds))),
                             rate);
    if (existing > 0) {
      std::cout << fmt::format("; {} already existed (unique keys held)", existing);
    }
    std::cout << "\n";
  }
}

}  // namespace spindle::cli
