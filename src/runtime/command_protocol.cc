#include "runtime/command_protocol.h"

#include <algorithm>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "core/duration.h"
#include "core/log.h"
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

void IgnoredLines::NotObeyed(std::string_view why) { Say(why); }

void IgnoredLines::TooLong(size_t bytes, size_t limit) {
  Say(fmt::format("a line of {} bytes, over the limit of {}", bytes, limit));
}

void IgnoredLines::Say(std::string_view why) {
  if (std::exchange(said_, true)) return;
  core::Log().warn("event=command_line_ignored job={} attempt={} why={}", job_id_, attempt_,
                   core::LogValue(fmt::format(
                       "{} (not obeyed, kept as output; said once per run)", why)));
}

std::optional<CommandLine> ParseCommandLine(std::string_view line, std::string* not_obeyed) {
  // Cheap rejection of ordinary output before a JSON parse.
  auto first = line.find_first_not_of(" \t");
  if (first == std::string_view::npos || line[first] != '{') return std::nullopt;
  Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.empty()) return std::nullopt;
  auto refuse = [&](std::string why) -> std::optional<CommandLine> {
    if (not_obeyed) *not_obeyed = std::move(why);
    return std::nullopt;
  };
  static constexpr std::string_view kKeys[] = {"checkpoint", "next",    "progress", "message",
                                               "nap",        "enqueue", "result",
                                               "status",     "error"};
  // What each key with a constrained value takes, for the message that refuses another value.
  auto Expected = [](std::string_view key) -> std::string_view {
    if (key == "next") return "a step's name";
    if (key == "progress") return "a number (0 to 1)";
    if (key == "nap") return "a duration (\"30s\") or whole milliseconds";
    if (key == "enqueue") return "a non-empty array of children";
    if (key == "status") return "a whole number from 0 to 255";
    return "a string";  // message, error
  };
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
          if (!child) return refuse("an invalid child in 'enqueue'");
          out.enqueue.push_back(std::move(*child));
        }
      } else if (key == "result") {
        out.result = v;
      } else if (key == "status" && v.is_number_integer() && v.get<int64_t>() >= 0 &&
                 v.get<int64_t>() <= 255) {
        out.status = v.get<int>();
      } else if (key == "error" && v.is_string()) {
        out.error = v.get<std::string>();
      } else if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
        return refuse(fmt::format("unknown key '{}'", key));
      } else {
        return refuse(fmt::format("'{}' must be {}, got {}", key, Expected(key), v.dump()));
      }
    }
  } catch (const Error& e) {  // a bad duration or an invalid child
    return refuse(e.what());
  }
  if (message && !out.progress) return refuse("'message' without 'progress'");
  if (out.error && !out.status) return refuse("'error' without 'status'");
  if (out.error && out.status == 0) return refuse("'error' with status 0 (a job that failed ends "
                                                  "with status 1 to 255)");
  if (out.progress) out.progress = ProgressJson(out.progress->get<double>(), message.value_or(""));
  return out;
}

}  // namespace spindle::runtime
