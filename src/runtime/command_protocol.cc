#include "runtime/command_protocol.h"

#include <algorithm>
#include <limits>

#include "core/duration.h"
#include "spindle/error.h"

namespace spindle::runtime {
namespace {

bool IsInt(const Json& v) {
  return v.is_number_integer() && v.get<int64_t>() >= std::numeric_limits<int>::min() &&
         v.get<int64_t>() <= std::numeric_limits<int>::max();
}

// A child as a command writes it: {"kind", "args", "queue", "priority", "max_attempts",
// "timeout"}; only "kind" is required.
std::optional<JobSpec> ParseChild(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  JobSpec s;
  for (const auto& [key, v] : j.items()) {
    if (key == "kind" && v.is_string()) {
      s.kind = v.get<std::string>();
    } else if (key == "args" && v.is_object()) {
      s.args = v;
    } else if (key == "queue" && v.is_string()) {
      s.queue = v.get<std::string>();
    } else if (key == "priority" && IsInt(v)) {
      s.priority = v.get<int>();
    } else if (key == "max_attempts" && IsInt(v)) {
      s.max_attempts = v.get<int>();
    } else if (key == "timeout" && v.is_string()) {
      s.timeout = core::ParseDuration(v.get<std::string>());
    } else {
      return std::nullopt;
    }
  }
  s.Validate();
  return s;
}

}  // namespace

Json ProgressJson(double fraction, std::string_view message) {
  return {{"fraction", std::clamp(fraction, 0.0, 1.0)}, {"message", std::string(message)}};
}

std::optional<CommandLine> ParseCommandLine(std::string_view line) {
  // Cheap rejection of ordinary output before a JSON parse.
  auto first = line.find_first_not_of(" \t");
  if (first == std::string_view::npos || line[first] != '{') return std::nullopt;
  Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.empty()) return std::nullopt;
  CommandLine out;
  std::optional<std::string> message;
  try {
    for (const auto& [key, v] : j.items()) {
      if (key == "checkpoint") {
        out.checkpoint = v;
      } else if (key == "next" && v.is_string() && !v.get<std::string>().empty()) {
        out.next = v.get<std::string>();
      } else if (key == "progress" && v.is_number()) {
        out.progress = v;
      } else if (key == "message" && v.is_string()) {
        message = v.get<std::string>();
      } else if (key == "nap" && v.is_string()) {
        out.nap = core::ParseDuration(v.get<std::string>());
      } else if (key == "nap" && v.is_number_integer() && v.get<int64_t>() >= 0) {
        out.nap = core::ParseDuration(std::to_string(v.get<int64_t>()) + "ms");  // capped as text is
      } else if (key == "enqueue" && v.is_array() && !v.empty()) {
        for (const auto& c : v) {
          auto child = ParseChild(c);
          if (!child) return std::nullopt;
          out.enqueue.push_back(std::move(*child));
        }
      } else if (key == "result") {
        out.result = v;
      } else {
        return std::nullopt;
      }
    }
  } catch (const Error&) {  // a bad duration or an invalid child
    return std::nullopt;
  }
  if (message && !out.progress) return std::nullopt;
  if (out.progress) out.progress = ProgressJson(out.progress->get<double>(), message.value_or(""));
  return out;
}

}  // namespace spindle::runtime
