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
#include "core/job_json.h"
#include "core/time.h"
#include "spindle/error.h"

namespace spindle::cli {
namespace {

// A line without "args" is the job's args; with it, a spec.
JobSpec SpecOf(const Json& line, const JobSpec& base) {
  if (line.is_object() && !line.contains("args")) {
    JobSpec spec = base;
    spec.args = line;
    return spec;
  }
  return core::SpecFromJson(line, base);
}

}  // namespace

Json ReadArgs(const std::string& value) {
  if (value == "-") {
    return core::ParseJson(std::string(std::istreambuf_iterator<char>(std::cin), {}), "--args from stdin");
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
    return core::ParseJson(std::string(std::istreambuf_iterator<char>(in), {}), "--args " + value);
  }
  return core::ParseJson(value, "--args");
}

std::vector<JobSpec> ReadBatch(std::istream& in, const JobSpec& base) {
  std::vector<JobSpec> specs;
  std::string text;
  for (int n = 1; std::getline(in, text); ++n) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      JobSpec spec = SpecOf(core::ParseJson(text, "it"), base);
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
